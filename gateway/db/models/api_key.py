"""API keys. The key itself is never stored: only its SHA-256 hash and a display prefix."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, String, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base
from gateway.db.models.limits import LimitColumns

# Scheduling tiers (priority for the engine's queue): chat first, batch jobs last.
TIERS = ("interactive", "standard", "batch")


class ApiKey(LimitColumns, Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"tier IN {TIERS!r}", name="tier"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "key_<hex>", public
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))  # "tg-" + a few chars, for display
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(200), index=True)
    tier: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    # None = every model; otherwise the model names (or aliases) this key may call.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False, server_default=false())
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the hash: reprs end up in logs and tracebacks
        return f"<ApiKey {self.id} {self.name!r}>"
