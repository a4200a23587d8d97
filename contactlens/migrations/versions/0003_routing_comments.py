"""Routing and review comments: each contact's owner team (as logged and current); notes without a decision.

`contacts.owner` / `contacts.current_owner` are nullable: existing rows are filled from the served taxonomy
when the service starts (`contactlens.routing.backfill_owners`), since a migration does not know the
taxonomy. `review_comments` keeps a reviewer's note written without a decision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ too): a batch copy of `contacts` trips the foreign keys to it.
    op.add_column("contacts", sa.Column("owner", sa.String(200)))
    op.add_column("contacts", sa.Column("current_owner", sa.String(200)))
    op.create_index("ix_contacts_current_owner", "contacts", ["current_owner"])
    op.create_table(
        "review_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("review_item_id", sa.Integer(), sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_review_comments_review_item_id", "review_comments", ["review_item_id"])


def downgrade() -> None:
    op.drop_index("ix_review_comments_review_item_id", "review_comments")
    op.drop_table("review_comments")
    op.drop_index("ix_contacts_current_owner", "contacts")
    op.drop_column("contacts", "current_owner")
    op.drop_column("contacts", "owner")
