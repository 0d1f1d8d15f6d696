"""Whether a failed job may succeed when retried (the backend's word on its error).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite need not rebuild the table for it.
    with op.batch_alter_table("jobs", recreate="never") as batch:
        batch.add_column(
            sa.Column("error_retryable", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("error_retryable")
