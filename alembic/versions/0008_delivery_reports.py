"""delivery reports: a row per reported message part, a message's report time and due
time, a gateway's delivery report token

Revision ID: 0008_delivery_reports
Revises: 0007_policy_description
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_delivery_reports"
down_revision: str | None = "0007_policy_description"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=255), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_status", sa.String(length=64), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gateway", "provider_id"),
    )
    op.create_index("ix_delivery_report_message_id", "delivery_report", ["message_id"])
    op.create_index("ix_delivery_report_received_at", "delivery_report", ["received_at"])
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("report_due", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_message_report_due",
        "message",
        ["report_due"],
        sqlite_where=sa.text("report_due IS NOT NULL"),
        postgresql_where=sa.text("report_due IS NOT NULL"),
    )
    with op.batch_alter_table("gateway", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dlr_token", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("gateway", schema=None) as batch_op:
        batch_op.drop_column("dlr_token")
    op.drop_index("ix_message_report_due", table_name="message")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("report_due")
        batch_op.drop_column("reported_at")
    op.drop_index("ix_delivery_report_received_at", table_name="delivery_report")
    op.drop_index("ix_delivery_report_message_id", table_name="delivery_report")
    op.drop_table("delivery_report")
