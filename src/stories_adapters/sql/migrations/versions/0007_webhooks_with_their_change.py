"""Webhook deliveries are recorded with the change that ends a job, no longer relayed
through the outbox: the webhook messages still unsent become deliveries here.

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from stories_adapters.sql.tables import UtcDateTime
from stories_core.model import derived_id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_outbox = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger()),
    sa.column("topic", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("created_at", UtcDateTime()),
    sa.column("sent_at", UtcDateTime()),
)
_deliveries = sa.table(
    "webhook_deliveries",
    sa.column("id", sa.String()),
    sa.column("job_id", sa.String()),
    sa.column("url", sa.Text()),
    sa.column("event", sa.JSON()),
    sa.column("state", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("next_attempt_at", UtcDateTime()),
    sa.column("created_at", UtcDateTime()),
)


def upgrade() -> None:
    db = op.get_bind()
    unsent = db.execute(
        sa.select(_outbox.c.id, _outbox.c.payload, _outbox.c.created_at).where(
            _outbox.c.topic == "webhooks", _outbox.c.sent_at.is_(None)
        )
    ).all()
    recorded = set(db.execute(sa.select(_deliveries.c.id)).scalars())
    for row in unsent:
        url, event = row.payload["url"], row.payload["event"]
        # The id the relay gave it, so a delivery it already made is not made twice.
        delivery_id = derived_id(
            "webhook", url, event["job_id"], event["kind"], event["occurred_at"]
        )
        if delivery_id not in recorded:
            recorded.add(delivery_id)
            db.execute(
                _deliveries.insert().values(
                    id=delivery_id,
                    job_id=event["job_id"],
                    url=url,
                    event=event,
                    state="pending",
                    attempts=0,
                    next_attempt_at=row.created_at,
                    created_at=row.created_at,
                )
            )
    if unsent:
        ids = [row.id for row in unsent]
        db.execute(_outbox.update().where(_outbox.c.id.in_(ids)).values(sent_at=datetime.now(UTC)))


def downgrade() -> None:
    """Nothing to undo: the deliveries stay, and the older relay delivers them as before."""
