"""Doubt where it belongs: `suggestions.fits_no_description` and `review_decisions.no_description_fits`.

The suggestion records whether the contact fit no description (so the review queue can say why it is there);
a reviewer's decision records "no description fits" (drift evidence, never a training label). Both are new
columns; older rows read null (suggestions) or false (decisions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch copy of `suggestions` breaks the foreign keys to it.
    op.add_column("suggestions", sa.Column("fits_no_description", sa.Boolean(), nullable=True))
    op.add_column(
        "review_decisions",
        sa.Column("no_description_fits", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it), for the same reason.
    op.drop_column("review_decisions", "no_description_fits")
    op.drop_column("suggestions", "fits_no_description")
