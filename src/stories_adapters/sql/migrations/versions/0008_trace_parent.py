"""The W3C traceparent of the span that created a job, and of the one that recorded a
webhook delivery: later work on them joins the job's trace.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("jobs", "webhook_deliveries")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(
                sa.Column(
                    "trace_parent",
                    sa.String(length=55),
                    nullable=False,
                    server_default=sa.text("''"),
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("trace_parent")
