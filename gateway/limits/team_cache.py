"""Teams' limits in memory for the hot path, reloaded from the database in the background.

Teams are few, so the whole table is read every `refresh_s` (the key cache's TTL: a change
reaches every gateway within it, like a key's own limits) and at once after a change made
through this gateway (before that change is answered). While the database is unreachable the last known limits stay in force.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from gateway.errors import GatewayError
from gateway.limits.policy import TeamLimits
from shared.logging import get_logger

_log = get_logger("tollgate.limits")

Loader = Callable[[], Awaitable[dict[str, TeamLimits]]]


class TeamLimitsCache:
    def __init__(self, load: Loader, refresh_s: float) -> None:
        self._load = load
        self._refresh_s = max(refresh_s, 1.0)
        self._teams: dict[str, TeamLimits] = {}
        self._task: asyncio.Task[None] | None = None

    def get(self, team: str) -> TeamLimits | None:
        return self._teams.get(team)

    async def refresh(self) -> bool:
        try:
            self._teams = await self._load()
        except GatewayError as exc:
            _log.warning("cannot reload team limits; keeping the last ones", error=exc.message)
            return False
        return True

    async def start(self) -> None:
        await self.refresh()
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_forever(), name="team-limits")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh()
