"""Usage ledger: one row per proxied request, with indexes for the time-ranged queries.

Revision ID: 0002_usage_ledger
Revises: 0001_api_keys
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_usage_ledger"
down_revision: str | None = "0001_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_usage_records_started_at": ["started_at"],
    "ix_usage_records_key_id_started_at": ["key_id", "started_at"],
    "ix_usage_records_team_started_at": ["team", "started_at"],
    "ix_usage_records_model_started_at": ["model", "started_at"],
}


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("upstream", sa.String(length=200), nullable=True),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("ttft_ms", sa.Double(), nullable=True),
        sa.Column("queued_ms", sa.Double(), nullable=True),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("client_disconnected", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "usage_records", columns, unique=False)


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="usage_records")
    op.drop_table("usage_records")
