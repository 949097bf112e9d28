"""security: admin token generation, policy users, API keys

Revision ID: 0003_security
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_security"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("admin", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "apikey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apikey_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_apikey_key_hash"), ["key_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apikey_key_hash"))
        batch_op.drop_index(batch_op.f("ix_apikey_name"))
    op.drop_table("apikey")
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_column("user")
    with op.batch_alter_table("admin", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
