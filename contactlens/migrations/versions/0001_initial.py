"""The initial schema: suggestions, contacts, review queue and decisions, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("taxonomy_version", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("top1_id", sa.String(200), nullable=False),
        sa.Column("top2_id", sa.String(200)),
        sa.Column("top3_id", sa.String(200)),
        sa.Column("top1_confidence", sa.Float(), nullable=False),
        sa.Column("ranked", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.String(32)),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_redacted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("site", sa.String(200)),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
        sa.Column("logged_by", sa.String(200), nullable=False),
        sa.Column("description_id", sa.String(200), nullable=False),
        sa.Column("sentiment", sa.String(32)),
        sa.Column("current_description_id", sa.String(200), nullable=False),
        sa.Column("current_group_id", sa.String(200), nullable=False),
        sa.Column("current_sentiment", sa.String(32)),
        sa.Column("suggestion_id", sa.String(32), sa.ForeignKey("suggestions.id"), unique=True),
    )
    op.create_index("ix_contacts_received_at", "contacts", ["received_at"])
    for col in ("channel", "site", "current_description_id", "current_group_id", "current_sentiment"):
        op.create_index(f"ix_contacts_{col}", "contacts", [col])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False, unique=True),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime()),
    )
    op.create_index("ix_review_items_status_created", "review_items", ["status", "created_at"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("review_item_id", sa.Integer(), sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("description_id", sa.String(200), nullable=False),
        sa.Column("sentiment", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.Column("override", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_review_decisions_review_item_id", "review_decisions", ["review_item_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime()),
    )


def downgrade() -> None:
    for table in ("api_keys", "review_decisions", "review_items", "contacts", "suggestions"):
        op.drop_table(table)
