"""The schema. Alembic migrations are checked against this metadata by the tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("pictures", Integer, nullable=False),
    Column("audio_type", String(16), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("trace_id", String(64), nullable=False),
    # The W3C traceparent of the span that created the job ("" when none was traced)
    Column("trace_parent", String(55), nullable=False, server_default=text("''")),
    Column("request_id", String(128)),
    Column("request_fingerprint", String(64)),
    Column("webhook_url", Text),
    Column("language", String(64), nullable=False, server_default="en"),
    Column("title", Text, nullable=False, server_default=text("''")),
    Column("markup", Text),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("error_retryable", Boolean, nullable=False, server_default=false()),
    Column("attempt", Integer, nullable=False, default=0),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("rung_at", UtcDateTime()),  # the sweeper last rang its doorbell again
    UniqueConstraint("tenant", "request_id", name="uq_jobs_tenant_request_id"),
    Index("ix_jobs_tenant_created", "tenant", "created_at", "id"),
    Index("ix_jobs_state_lease", "state", "lease_expires_at"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("start_offset", Integer, nullable=False),
    Column("end_offset", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    UniqueConstraint("job_id", "idx", name="uq_segments_job_id_idx"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("segment_id", String(36), ForeignKey("segments.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("blob_key", Text, nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),
    Column("metadata", JSON, nullable=False),
    UniqueConstraint("segment_id", "kind", name="uq_assets_segment_id_kind"),
    Index("ix_assets_job_id", "job_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("period_start", UtcDateTime(), primary_key=True),
    Column("chars", BigInteger, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("topic", String(32), nullable=False),
    Column("message_key", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Index("ix_outbox_message_key_id", "message_key", "id"),  # a job's events, in order
    Index(
        "ix_outbox_unsent",
        "id",
        sqlite_where=text("sent_at IS NULL"),
        postgresql_where=text("sent_at IS NULL"),
    ),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("event", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("trace_parent", String(55), nullable=False, server_default=text("''")),
    Index("ix_webhook_deliveries_state_next_attempt", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_job_id", "job_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "delivery_id",
        String(36),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("attempted_at", UtcDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Index("ix_webhook_attempts_delivery_id", "delivery_id"),
)
