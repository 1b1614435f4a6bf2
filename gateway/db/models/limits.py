"""The limit columns a key and a team both carry: one set of names and types, read by one
limits policy (gateway/limits) for either."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column


class LimitColumns:
    """None = no limit of that kind (for a team: the keys' own limits still apply)."""

    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    daily_tokens: Mapped[int | None] = mapped_column(BigInteger)
    monthly_tokens: Mapped[int | None] = mapped_column(BigInteger)
    # {"model": {"rpm": …, "tpm": …, …}}: per-model limits with counters of their own.
    model_limits: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
