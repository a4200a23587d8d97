"""Retention: `retention_audit`, one row per purge or erasure (when, who, cut-off, counts; never content).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("cutoff", sa.DateTime()),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
    )
    op.create_index("ix_retention_audit_at", "retention_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_retention_audit_at", table_name="retention_audit")
    op.drop_table("retention_audit")
