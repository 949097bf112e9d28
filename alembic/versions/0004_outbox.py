"""the outbox: message rows become the queue; delivery attempts; modem ownership

Revision ID: 0004_outbox
Revises: 0003_security
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outbox"
down_revision: str | None = "0003_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "modem_owner",
        sa.Column("device", sa.String(length=255), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device"),
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("gateway", sa.String(length=255), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("provider_ids", sa.Text(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_delivery_attempt_message_id", "delivery_attempt", ["message_id"], unique=False
    )
    # Rows of the message log written before the outbox are final: they get empty values.
    with op.batch_alter_table("message", schema=None) as batch:
        batch.add_column(sa.Column("route", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("hop", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("hop_tries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("lease_owner", sa.String(length=128), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("destination", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("body", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("challenge_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("caller", sa.String(length=255), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("request_hash", sa.String(length=64), nullable=False, server_default="")
        )
        batch.create_index("ix_message_due", ["status", "not_before"], unique=False)
        batch.create_index("ix_message_transaction_id", ["transaction_id"], unique=False)
        batch.create_index("ix_message_challenge_id", ["challenge_id"], unique=False)
        batch.create_index(
            "ix_message_idempotency", ["caller", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch:
        batch.drop_index("ix_message_idempotency")
        batch.drop_index("ix_message_challenge_id")
        batch.drop_index("ix_message_transaction_id")
        batch.drop_index("ix_message_due")
        for column in (
            "request_hash",
            "idempotency_key",
            "caller",
            "challenge_id",
            "body",
            "destination",
            "lease_until",
            "lease_owner",
            "not_before",
            "deadline",
            "hop_tries",
            "hop",
            "route",
        ):
            batch.drop_column(column)
    op.drop_index("ix_delivery_attempt_message_id", table_name="delivery_attempt")
    op.drop_table("delivery_attempt")
    op.drop_table("modem_owner")
