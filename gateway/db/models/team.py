"""Teams' limits. Keys name their team by a free string (`api_keys.team`); a team with no row
here simply has no team-wide limits. Every key of a team draws from the same team counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base
from gateway.db.models.limits import LimitColumns


class Team(LimitColumns, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Models (or aliases) the team's keys may use, on top of each key's own list; None = all.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<Team {self.name!r}>"
