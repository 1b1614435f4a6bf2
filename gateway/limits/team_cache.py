"""Teams' limits in memory for the hot path, reloaded from the database in the background.

Teams are few, so the whole table is read every `refresh_s` (the key cache's TTL: a change
reaches every gateway within it, like a key's own limits) and at once after a change made
through this gateway (before that change is answered). While the database is unreachable the last known limits stay in force.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.background import PeriodicRefresh
from gateway.errors import GatewayError
from gateway.limits.policy import TeamLimits
from shared.logging import get_logger

_log = get_logger("tollgate.limits")

Loader = Callable[[], Awaitable[dict[str, TeamLimits]]]


class TeamLimitsCache(PeriodicRefresh):
    def __init__(self, load: Loader, refresh_s: float) -> None:
        super().__init__(refresh_s, task_name="team-limits")
        self._load = load
        self._teams: dict[str, TeamLimits] = {}

    def get(self, team: str) -> TeamLimits | None:
        return self._teams.get(team)

    async def refresh(self) -> bool:
        try:
            self._teams = await self._load()
        except GatewayError as exc:
            _log.warning("cannot reload team limits; keeping the last ones", error=exc.message)
            return False
        return True
