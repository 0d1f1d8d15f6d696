"""API keys (hashes only) and per-key character usage for quotas.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from stories_adapters.sql.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("chars", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_key_usage_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "period_start", name=op.f("pk_key_usage")),
    )


def downgrade() -> None:
    op.drop_table("key_usage")
    op.drop_table("api_keys")
