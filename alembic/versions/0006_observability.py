"""observability: a gateway's newest messages and delivery attempts found by index

Revision ID: 0006_observability
Revises: 0005_traffic
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_observability"
down_revision: str | None = "0005_traffic"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_message_gateway_id", "message", ["gateway", "id"], unique=False)
    op.create_index(
        "ix_delivery_attempt_gateway_id", "delivery_attempt", ["gateway", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_attempt_gateway_id", table_name="delivery_attempt")
    op.drop_index("ix_message_gateway_id", table_name="message")
