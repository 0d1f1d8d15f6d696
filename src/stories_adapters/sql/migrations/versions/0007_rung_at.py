"""When the sweeper last rang a queued job's doorbell again, so it rings once per wait,
not at every sweep.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from stories_adapters.sql.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", recreate="never") as batch:
        batch.add_column(sa.Column("rung_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("rung_at")
