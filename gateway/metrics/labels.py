"""Keeping label values to a small, fixed set, whatever clients send.

A label value becomes a time series; a client that sends a new model name per request, or a
new error text, would otherwise grow the gateway's memory and Prometheus' storage without
bound.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

OTHER = "other"
NONE = "none"
_CODE = re.compile(r"[a-z0-9_]{1,48}")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_TIERS = frozenset({"interactive", "standard", "batch"})


class ModelLabels:
    """Model names the engines serve are labels as they are; anything else is "other".

    `served` lists the engines' models now; it is asked again on a miss (an engine that just
    came up), at most once a second so a flood of made-up names costs nothing.
    """

    def __init__(
        self,
        served: Callable[[], Iterable[str]] = tuple,
        *,
        limit: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._served = served
        self._known: frozenset[str] = frozenset()
        self._limit = limit
        self._monotonic = monotonic
        self._refreshed_at = float("-inf")

    def refresh(self) -> None:
        self._refreshed_at = self._monotonic()
        self._known = frozenset(sorted(set(self._served()))[: self._limit])

    def __call__(self, model: str | None) -> str:
        if model is None:
            return NONE
        if model in self._known:
            return model
        if self._monotonic() - self._refreshed_at >= 1.0:
            self.refresh()
            if model in self._known:
                return model
        return OTHER


class CodeLabels:
    """Error codes: the gateway's own snake_case codes, at most `limit` distinct ones."""

    def __init__(self, limit: int = 64) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, code: str | None) -> str:
        if code is None:
            return NONE
        if code in self._seen:
            return code
        if not _CODE.fullmatch(code) or len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(code)
        return code


def method_label(method: str) -> str:
    return method if method in _METHODS else OTHER


def tier_label(tier: str) -> str:
    return tier if tier in _TIERS else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER
