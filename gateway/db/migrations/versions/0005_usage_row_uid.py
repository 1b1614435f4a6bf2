"""Usage ledger: a unique id per row, so a batch retried after a lost commit adds no duplicate.

Revision ID: 0005_usage_row_uid
Revises: 0004_team_models
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_usage_row_uid"
down_revision: str | None = "0004_team_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before this migration have none (NULLs never collide).
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("row_uid", sa.String(length=32), nullable=True))
        batch.create_index("ux_usage_records_row_uid", ["row_uid"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_index("ux_usage_records_row_uid")
        batch.drop_column("row_uid")
