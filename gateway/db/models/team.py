"""Teams' limits. Keys name their team by a free string (`api_keys.team`); a team with no row
here simply has no team-wide limits. Every key of a team draws from the same team counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class Team(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Limits, None = no team-wide limit of that kind (the keys' own limits still apply).
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    daily_tokens: Mapped[int | None] = mapped_column(BigInteger)
    monthly_tokens: Mapped[int | None] = mapped_column(BigInteger)
    # {"model": {"rpm": …, "tpm": …, …}}: per-model limits with counters of their own.
    model_limits: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Models (or aliases) the team's keys may use, on top of each key's own list; None = all.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<Team {self.name!r}>"
