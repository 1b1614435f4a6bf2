"""Where counters live: the contract both backends (in-process, Redis) fulfil.

Every method works on a whole request's checks at once, so admission is all-or-nothing: a
request refused by its team's tpm takes nothing from its key's rpm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.limits.checks import Check, Verdict


class BackendUnavailable(Exception):
    """The counters cannot be reached (Redis down, slow or answering errors)."""


class LimitBackend(Protocol):
    name: str

    async def start(self) -> None:
        """Open connections and background work (lease renewal, clean-up)."""

    async def aclose(self) -> None: ...

    async def acquire(self, checks: Sequence[Check], lease: str) -> Verdict:
        """Check every counter; if all pass, reserve `need` on each and take a slot under
        `lease` (atomically). Raises BackendUnavailable."""

    async def peek(self, checks: Sequence[Check]) -> Verdict:
        """What each counter holds now; changes nothing. Raises BackendUnavailable."""

    async def settle(self, checks: Sequence[Check], deltas: Sequence[int], lease: str) -> None:
        """After the request: add `deltas[i]` (real usage minus reservation) to each rate or
        budget counter and give back the slots held under `lease`. Raises BackendUnavailable."""
