"""Teams' limits: create, replace, update, show, list, delete. Used by the admin API and the CLI
alike, so both validate and behave the same. Each call is one transaction; `on_change` runs
after a change, so this gateway's team cache has reloaded before the change is answered (other
gateways reload within their refresh time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.errors import database_errors
from gateway.db.models import Team
from gateway.errors import InvalidRequest, NotFound
from gateway.keys.principal import KeyLimits, model_limits_from
from gateway.limits.policy import TeamLimits
from shared.schemas.keys import KeyLimitsInfo
from shared.schemas.teams import TEAM_LIMIT_FIELDS, TeamFields, TeamInfo

Clock = Callable[[], datetime]
MAX_NAME = 200


class TeamNotFound(NotFound):
    default_code = "team_not_found"

    def __init__(self, name: str) -> None:
        shown = name if len(name) <= 64 else name[:64] + "…"
        super().__init__(f"No team limits for team {shown!r}.", param="name")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def checked_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InvalidRequest(
            f"A team name has 1 to {MAX_NAME} characters.", param="name", code="invalid_value"
        )
    return cleaned


def team_info(row: Team) -> TeamInfo:
    return TeamInfo(
        name=row.name,
        allowed_models=row.allowed_models,
        limits=KeyLimitsInfo(**{name: getattr(row, name) for name in TEAM_LIMIT_FIELDS}),
        model_limits={m: KeyLimitsInfo(**v) for m, v in row.model_limits.items()}
        if row.model_limits
        else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def team_limits(row: Team) -> TeamLimits:
    return TeamLimits(
        limits=KeyLimits(**{name: getattr(row, name) for name in TEAM_LIMIT_FIELDS}),
        model_limits=model_limits_from(row.model_limits),
    )


def _columns(fields: TeamFields, *, only_given: bool) -> dict[str, Any]:
    given = fields.model_dump(exclude_unset=only_given)
    if "models" in given:
        given["allowed_models"] = given.pop("models")
    if "model_limits" in given:
        value: Mapping[str, Mapping[str, Any]] | None = given["model_limits"]
        # Stored compactly: only the limits each model sets.
        given["model_limits"] = (
            {m: {k: v for k, v in lim.items() if v is not None} for m, lim in value.items()}
            if value
            else None
        )
    return given


async def load_team_limits(sessions: async_sessionmaker[AsyncSession]) -> dict[str, TeamLimits]:
    """Every team's limits, for the hot path's cache (teams are few)."""
    with database_errors("the team database"):
        async with sessions() as session:
            rows = (await session.execute(select(Team))).scalars().all()
            return {row.name: team_limits(row) for row in rows}


class TeamService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_change: Callable[[], Awaitable[object]] | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change
        self._clock = clock

    async def list(self) -> list[TeamInfo]:
        with database_errors():
            async with self._sessions() as session:
                rows = (await session.execute(select(Team).order_by(Team.name))).scalars().all()
                return [team_info(row) for row in rows]

    async def get(self, name: str) -> TeamInfo:
        with database_errors():
            async with self._sessions() as session:
                return team_info(await self._require(session, checked_name(name)))

    async def put(self, name: str, fields: TeamFields) -> tuple[TeamInfo, bool]:
        """Set a team's limits to exactly `fields`; (info, whether the team was new)."""
        return await self._write(name, _columns(fields, only_given=False), create=True)

    async def update(self, name: str, fields: TeamFields, *, create: bool = False) -> TeamInfo:
        """Change only the fields given; a missing team is an error unless `create`."""
        info, _ = await self._write(name, _columns(fields, only_given=True), create=create)
        return info

    async def delete(self, name: str) -> TeamInfo:
        """Remove a team's limits (its keys keep their own)."""
        with database_errors():
            async with self._sessions() as session, session.begin():
                row = await self._require(session, checked_name(name))
                info = team_info(row)
                await session.delete(row)
        await self._changed()
        return info

    async def _write(
        self, name: str, columns: dict[str, Any], *, create: bool
    ) -> tuple[TeamInfo, bool]:
        name = checked_name(name)
        for attempt in (1, 2):
            now = self._clock()
            try:
                with database_errors():
                    async with self._sessions() as session, session.begin():
                        row = await session.get(Team, name)
                        created = row is None
                        if row is None:
                            if not create:
                                raise TeamNotFound(name)
                            row = Team(name=name, created_at=now, updated_at=now, **columns)
                            session.add(row)
                        else:
                            for column, value in columns.items():
                                setattr(row, column, value)
                            row.updated_at = now
                        info = team_info(row)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue  # another gateway created the team meanwhile: update it instead
            break
        await self._changed()
        return info, created

    @staticmethod
    async def _require(session: AsyncSession, name: str) -> Team:
        row = await session.get(Team, name)
        if row is None:
            raise TeamNotFound(name)
        return row

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()
