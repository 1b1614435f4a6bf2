"""SQL for API keys. Callers own the session and its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import ApiKey

_table = cast(Table, ApiKey.__table__)
# One statement for a whole batch of last-used times (executemany); never moves a time back,
# so gateways flushing out of order agree.
_TOUCH = (
    update(_table)
    .where(_table.c.id == bindparam("key_id"))
    .where(or_(_table.c.last_used_at.is_(None), _table.c.last_used_at < bindparam("used_at")))
    .values(last_used_at=bindparam("used_at"))
)


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key_id: str) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        result = await self.session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
        return result.scalar_one_or_none()

    async def list(
        self, *, team: str | None = None, revoked: bool | None = None
    ) -> Sequence[ApiKey]:
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if team is not None:
            query = query.where(ApiKey.team == team)
        if revoked is not None:
            query = query.where(ApiKey.revoked.is_(revoked))
        return (await self.session.execute(query)).scalars().all()

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(ApiKey)) or 0)

    def add(self, key: ApiKey) -> None:
        self.session.add(key)

    @staticmethod
    def apply(key: ApiKey, changes: Mapping[str, Any]) -> None:
        for column, value in changes.items():
            setattr(key, column, value)

    async def touch(self, used: Mapping[str, datetime]) -> None:
        """Record last-used times for many keys in one round trip."""
        if used:
            rows = [{"key_id": key_id, "used_at": at} for key_id, at in used.items()]
            await self.session.execute(_TOUCH, rows)
