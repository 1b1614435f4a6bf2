"""The usage ledger: one row per proxied request, written in batches by `gateway.usage`.

Rows copy the key's id and team as they were at request time (no foreign key): the ledger is
an audit trail that must outlive renamed teams and revoked keys, and inserts stay cheap.
Token counts are NULL when unknown (a request that never reached the engine, /v1/models);
`usage_estimated` marks counts the gateway estimated because the engine reported none (a
stream cut off by a client disconnect).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid); PostgreSQL gets a bigint.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class UsageRecord(Base):
    __tablename__ = "usage_records"
    # Every query filters by time; the composite indexes serve "this key/team/model between
    # since and until" without touching other rows, and started_at alone serves pruning.
    __table_args__ = (
        Index("ix_usage_records_started_at", "started_at"),
        Index("ix_usage_records_key_id_started_at", "key_id", "started_at"),
        Index("ix_usage_records_team_started_at", "team", "started_at"),
        Index("ix_usage_records_model_started_at", "model", "started_at"),
        # Made when the request ends; a batch retried after a commit whose answer was lost
        # (the connection dropped) skips the rows already in.
        Index("ux_usage_records_row_uid", "row_uid", unique=True),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    row_uid: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime]  # when the request arrived (UTC)
    request_id: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(40))
    team: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    upstream: Mapped[str | None] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(SmallInteger)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float]
    ttft_ms: Mapped[float | None]
    queued_ms: Mapped[float | None]
    streamed: Mapped[bool]
    client_disconnected: Mapped[bool]
    error: Mapped[str | None] = mapped_column(String(64))
    usage_estimated: Mapped[bool]

    def __repr__(self) -> str:
        return f"<UsageRecord {self.id} {self.request_id} {self.key_id} {self.status}>"
