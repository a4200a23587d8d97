"""Several descriptions per contact: `contact_descriptions`, the model's decision, decisions' lists.

Every existing contact gets one logged row (its description and sentiment) and one current row (its current
description, group and sentiment); no existing row is changed. `suggestions.descriptions` and
`review_decisions.descriptions` are new nullable JSON columns: null on older rows, which readers take as
"the primary alone".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_descriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(200)),
        sa.Column("sentiment", sa.String(32)),
        sa.UniqueConstraint("contact_id", "kind", "position", name="uq_contact_descriptions_position"),
    )
    op.create_index(
        "ix_contact_descriptions_kind_description", "contact_descriptions", ["kind", "description_id"]
    )
    # Plain ALTER TABLE (SQLite 3.35+ too): a batch copy of `suggestions` trips the contacts' foreign keys.
    op.add_column("suggestions", sa.Column("descriptions", sa.JSON()))
    op.add_column("review_decisions", sa.Column("descriptions", sa.JSON()))
    op.execute(
        "INSERT INTO contact_descriptions (contact_id, kind, position, description_id, group_id, sentiment) "
        "SELECT id, 'logged', 0, description_id, "
        "CASE WHEN description_id = current_description_id THEN current_group_id END, sentiment "
        "FROM contacts ORDER BY id"
    )
    op.execute(
        "INSERT INTO contact_descriptions (contact_id, kind, position, description_id, group_id, sentiment) "
        "SELECT id, 'current', 0, current_description_id, current_group_id, current_sentiment "
        "FROM contacts ORDER BY id"
    )


def downgrade() -> None:
    op.drop_column("review_decisions", "descriptions")
    op.drop_column("suggestions", "descriptions")
    op.drop_index("ix_contact_descriptions_kind_description", "contact_descriptions")
    op.drop_table("contact_descriptions")
