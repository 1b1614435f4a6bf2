"""Teams' model lists from the database (`/admin/teams`, `tollgate teams set --models`), held
in memory for the hot path and reloaded in the background.

Teams are few, so the whole list is read every `refresh_s` (the key cache's TTL, like team
limits): a change reaches every gateway within it. While the database is unreachable the last
lists stay in force.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.background import PeriodicRefresh
from gateway.db.errors import database_errors
from gateway.db.models import Team
from gateway.errors import GatewayError
from shared.logging import get_logger

_log = get_logger("tollgate.routing")


class TeamModelsCache(PeriodicRefresh):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], refresh_s: float) -> None:
        super().__init__(refresh_s, task_name="team-models")
        self._sessions = sessions
        self.models: Mapping[str, frozenset[str]] = {}

    async def refresh(self) -> bool:
        try:
            with database_errors("the team database"):
                async with self._sessions() as session:
                    rows = (
                        await session.execute(
                            select(Team.name, Team.allowed_models).where(
                                Team.allowed_models.is_not(None)
                            )
                        )
                    ).all()
        except GatewayError as exc:
            _log.warning("cannot reload teams' models; keeping the last ones", error=exc.message)
            return False
        self.models = {name: frozenset(models) for name, models in rows if models is not None}
        return True
