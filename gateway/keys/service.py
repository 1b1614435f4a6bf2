"""Key management: create, list, show, update, revoke. Used by the admin API and the CLI alike,
so both validate and behave the same."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.errors import database_errors
from gateway.db.models import ApiKey
from gateway.keys.errors import KeyNotFound
from gateway.keys.repository import KeyRepository
from gateway.keys.tokens import generate_key
from shared.schemas.keys import (
    LIMIT_FIELDS,
    KeyCreate,
    KeyCreated,
    KeyFields,
    KeyInfo,
    KeyLimitsInfo,
    KeyUpdate,
)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        team=key.team,
        prefix=key.prefix,
        tier=key.tier,  # type: ignore[arg-type]  # the CHECK constraint keeps it a Tier
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked=key.revoked,
        revoked_at=key.revoked_at,
        allowed_models=key.allowed_models,
        limits=KeyLimitsInfo(**{name: getattr(key, name) for name in LIMIT_FIELDS}),
        model_limits=model_limits_info(key.model_limits),
    )


def model_limits_info(raw: dict[str, Any] | None) -> dict[str, KeyLimitsInfo] | None:
    if not raw:
        return None
    return {model: KeyLimitsInfo(**limits) for model, limits in raw.items()}


def _column_changes(fields: KeyFields, now: datetime, *, only_given: bool) -> dict[str, Any]:
    """Request fields to column values (`models` -> allowed_models, a relative expiry -> a time)."""
    given = fields.model_dump(exclude_unset=only_given)
    changes: dict[str, Any] = {}
    for field, value in given.items():
        if field == "models":
            changes["allowed_models"] = value
        elif field == "model_limits":
            # Stored compactly: only the limits each model sets.
            changes["model_limits"] = (
                {m: {k: v for k, v in lim.items() if v is not None} for m, lim in value.items()}
                if value
                else None
            )
        elif field == "expires_in_days":
            if value is not None or only_given:
                changes["expires_at"] = None if value is None else now + timedelta(days=value)
        elif field == "expires_at":
            if value is not None or only_given:
                changes["expires_at"] = value
        else:
            changes[field] = value
    return changes


class KeyService:
    """Each call is one transaction. `on_change(key_id)` runs (and is awaited when it is a
    coroutine) after a key changed, so the gateway's auth cache drops it at once and other
    gateways are told (gateway/keys/invalidation.py) before the change is answered."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_change: Callable[[str], object] | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change
        self._clock = clock

    async def create(self, spec: KeyCreate) -> KeyCreated:
        now = self._clock()
        new = generate_key()
        row = ApiKey(
            id=new.id,
            key_hash=new.key_hash,
            prefix=new.prefix,
            created_at=now,
            updated_at=now,
            revoked=False,
            **_column_changes(spec, now, only_given=False),
        )
        with database_errors():
            async with self._sessions() as session, session.begin():
                KeyRepository(session).add(row)
        return KeyCreated(**key_info(row).model_dump(), key=new.key)

    async def list(self, *, team: str | None = None, revoked: bool | None = None) -> list[KeyInfo]:
        with database_errors():
            async with self._sessions() as session:
                rows: Sequence[ApiKey] = await KeyRepository(session).list(
                    team=team, revoked=revoked
                )
                return [key_info(row) for row in rows]

    async def get(self, key_id: str) -> KeyInfo:
        with database_errors():
            async with self._sessions() as session:
                return key_info(await self._require(KeyRepository(session), key_id))

    async def update(self, key_id: str, spec: KeyUpdate) -> KeyInfo:
        now = self._clock()
        with database_errors():
            async with self._sessions() as session, session.begin():
                repo = KeyRepository(session)
                row = await self._require(repo, key_id)
                repo.apply(row, {**_column_changes(spec, now, only_given=True), "updated_at": now})
        await self._changed(key_id)
        return key_info(row)

    async def revoke(self, key_id: str) -> KeyInfo:
        """Soft delete: the row stays for the usage history. Revoking twice changes nothing."""
        now = self._clock()
        with database_errors():
            async with self._sessions() as session, session.begin():
                repo = KeyRepository(session)
                row = await self._require(repo, key_id)
                if not row.revoked:
                    repo.apply(row, {"revoked": True, "revoked_at": now, "updated_at": now})
        await self._changed(key_id)
        return key_info(row)

    async def count(self) -> int:
        with database_errors():
            async with self._sessions() as session:
                return await KeyRepository(session).count()

    @staticmethod
    async def _require(repo: KeyRepository, key_id: str) -> ApiKey:
        row = await repo.get(key_id) if len(key_id) <= 40 else None
        if row is None:
            raise KeyNotFound(key_id)
        return row

    async def _changed(self, key_id: str) -> None:
        if self._on_change is not None:
            result = self._on_change(key_id)
            if inspect.isawaitable(result):
                await result
