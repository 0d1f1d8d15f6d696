"""An index of the outbox by message key and id: a job's recorded events, in order, for
watchers that open or resume a stream.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_message_key_id", "outbox", ["message_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_message_key_id", table_name="outbox")
