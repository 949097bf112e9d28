"""traffic control: rules, Geo permissions, safe list, counters, gateway limits

Revision ID: 0005_traffic
Revises: 0004_outbox
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_traffic"
down_revision: str | None = "0004_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "traffic_rule",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "traffic_country",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("permission", sa.String(length=8), nullable=False),
        sa.Column("hourly_cap", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "traffic_safe",
        sa.Column("entry", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entry"),
    )
    op.create_table(
        "traffic_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "traffic_counter",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=True),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "subject"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "gateway_limit",
        sa.Column("gateway", sa.String(length=255), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=True),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("day_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gateway"),
    )


def downgrade() -> None:
    for table in (
        "gateway_limit",
        "traffic_counter",
        "traffic_setting",
        "traffic_safe",
        "traffic_country",
        "traffic_rule",
    ):
        op.drop_table(table)
