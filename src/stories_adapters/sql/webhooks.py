"""The WebhookRepository port on SQLAlchemy Core, for PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stories_adapters.sql.tables import webhook_attempts, webhook_deliveries
from stories_core.model import WebhookAttempt, WebhookDelivery, WebhookState


class SqlWebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, delivery: WebhookDelivery) -> None:
        """INSERT ... ON CONFLICT DO NOTHING: relaying the same event twice records it once."""
        dialect_insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
        statement = (
            dialect_insert[self._db.dialect.name](webhook_deliveries)
            .values(id=delivery.id, **_delivery_row(delivery))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        self._db.execute(statement)

    def due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """SKIP LOCKED on PostgreSQL, so dispatchers never wait on each other's claims."""
        query = (
            select(webhook_deliveries)
            .where(
                webhook_deliveries.c.state == WebhookState.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_delivery_from(row) for row in self._db.execute(query)]

    def update(self, delivery: WebhookDelivery) -> None:
        self._db.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(**_delivery_row(delivery))
        )

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self._db.execute(
            insert(webhook_attempts).values(
                delivery_id=attempt.delivery_id,
                number=attempt.number,
                attempted_at=attempt.attempted_at,
                duration_ms=attempt.duration_ms,
                status_code=attempt.status_code,
                error=attempt.error,
            )
        )

    def for_job(self, job_id: str) -> list[WebhookDelivery]:
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.job_id == job_id)
            .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.id)
        )
        return [_delivery_from(row) for row in self._db.execute(query)]

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        query = (
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_attempts.c.number, webhook_attempts.c.id)
        )
        return [
            WebhookAttempt(
                delivery_id=row.delivery_id,
                number=row.number,
                attempted_at=row.attempted_at,
                duration_ms=row.duration_ms,
                status_code=row.status_code,
                error=row.error,
            )
            for row in self._db.execute(query)
        ]


def _delivery_row(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "job_id": delivery.job_id,
        "url": delivery.url,
        "event": delivery.event,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "trace_parent": delivery.trace_parent,
    }


def _delivery_from(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        job_id=row.job_id,
        url=row.url,
        event=row.event,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        state=WebhookState(row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        trace_parent=row.trace_parent,
    )
