"""message: drop the indexes on gateway and on status alone

Each is the first column of a wider index (ix_message_gateway_id, ix_message_due) that
answers the same lookups, and every admission and every change of state paid for both.

Revision ID: 0009_message_indexes
Revises: 0008_delivery_reports
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_message_indexes"
down_revision: str | None = "0008_delivery_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_message_gateway", table_name="message")
    op.drop_index("ix_message_status", table_name="message")


def downgrade() -> None:
    op.create_index("ix_message_status", "message", ["status"], unique=False)
    op.create_index("ix_message_gateway", "message", ["gateway"], unique=False)
