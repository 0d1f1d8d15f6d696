"""A job's language (a BCP-47 tag) and its story's title.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite need not rebuild the table for them. Jobs recorded before
    # languages were detected were all spoken and drawn as English.
    with op.batch_alter_table("jobs", recreate="never") as batch:
        batch.add_column(sa.Column("language", sa.String(64), server_default="en", nullable=False))
        batch.add_column(
            sa.Column("title", sa.Text(), server_default=sa.text("''"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("title")
        batch.drop_column("language")
