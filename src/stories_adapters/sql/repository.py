"""The JobRepository and UnitOfWork ports on SQLAlchemy Core, for PostgreSQL and SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SqlAlchemyTimeout

from stories_adapters.sql import prepared
from stories_adapters.sql.engine import begin
from stories_adapters.sql.prepared import prepare
from stories_adapters.sql.tables import api_keys, assets, jobs, key_usage, outbox, segments
from stories_adapters.sql.webhooks import SqlWebhookRepository
from stories_core.errors import (
    AlreadyExists,
    ConcurrentChange,
    DatabaseUnavailable,
    LeaseLost,
    NotFound,
)
from stories_core.events import JobEvent
from stories_core.model import (
    ApiKey,
    Asset,
    AssetKind,
    AudioType,
    Job,
    JobState,
    OutboxMessage,
    Segment,
    SegmentState,
    Topic,
    webhook_delivery,
)
from stories_core.ports import EventSink, JobCursor, UnitOfWork

log = logging.getLogger(__name__)

_JOB_FIELDS = (
    "tenant", "state", "text", "content_type", "pictures", "audio_type", "backend", "trace_id",
    "trace_parent", "request_id", "request_fingerprint", "webhook_url", "language", "title",
    "markup", "error_code", "error_message",
    "error_retryable", "attempt", "lease_owner", "lease_expires_at", "created_at", "updated_at",
)  # fmt: skip
_CHANGEABLE_JOB_FIELDS = (
    "state", "markup", "error_code", "error_message", "error_retryable", "attempt",
    "lease_owner", "lease_expires_at", "updated_at",
)  # fmt: skip


# Built once: only the bound values change from call to call. The hottest ones (every
# CreateJob and GetJob) run as PreparedStatements, the rest through Core.
_JOB_BY_ID = select(jobs).where(jobs.c.id == bindparam("job_id"))
_JOB_BY_ID_FOR_UPDATE = _JOB_BY_ID.with_for_update()
# A job's (or a page of jobs') segments with their assets in one round trip.
_SEGMENTS_WITH_ASSETS = (
    select(segments, *[column.label(f"asset_{column.name}") for column in assets.c])
    .outerjoin(assets, assets.c.segment_id == segments.c.id)
    .where(segments.c.job_id == bindparam("job_id"))
    .order_by(segments.c.idx, assets.c.kind)
)
_SEGMENTS_WITH_ASSETS_OF_JOBS = (
    select(segments, *[column.label(f"asset_{column.name}") for column in assets.c])
    .outerjoin(assets, assets.c.segment_id == segments.c.id)
    .where(segments.c.job_id.in_(bindparam("job_ids", expanding=True)))
    .order_by(segments.c.job_id, segments.c.idx, assets.c.kind)
)
_KEY_BY_ID = select(api_keys).where(api_keys.c.id == bindparam("key_id"))
_INSERT_JOB = insert(jobs)
_INSERT_OUTBOX = insert(outbox)
_OUTBOX_COLUMNS = ("topic", "message_key", "payload", "created_at")
_UPDATE_JOB = update(jobs).where(jobs.c.id == bindparam("b_id"))
_UPDATE_JOB_IN_STATE = _UPDATE_JOB.where(jobs.c.state == bindparam("b_state"))
_UPDATE_SEGMENT = update(segments).where(segments.c.id == bindparam("b_id"))


class SqlJobRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self.seen: list[Job] = []

    def _saw(self, job: Job) -> Job:
        if not any(seen is job for seen in self.seen):
            self.seen.append(job)
        return job

    def add(self, job: Job) -> None:
        statement = prepare(_INSERT_JOB, self._db.dialect, ("id", *_JOB_FIELDS))
        try:
            prepared.execute(self._db, statement, {"id": job.id, **_job_row(job)})
        except self._db.dialect.loaded_dbapi.IntegrityError as error:
            # The transaction is spoilt: the caller starts anew.
            raise AlreadyExists(f"request_id {job.request_id!r} is already taken") from error
        self._saw(job)

    def get(self, job_id: str, tenant: str | None = None, *, for_update: bool = False) -> Job:
        query = _JOB_BY_ID_FOR_UPDATE if for_update else _JOB_BY_ID
        rows = prepared.execute(self._db, prepare(query, self._db.dialect), {"job_id": job_id})
        if not rows or (tenant is not None and rows[0]["tenant"] != tenant):
            raise NotFound(f"job {job_id} not found")
        return self._saw(self._load(rows[0]))

    def find_by_request_id(self, tenant: str, request_id: str) -> Job | None:
        row = self._db.execute(
            select(jobs).where(jobs.c.tenant == tenant, jobs.c.request_id == request_id)
        ).first()
        return self._saw(self._load(row._mapping)) if row else None

    def list(
        self, tenant: str, *, states: Sequence[JobState], limit: int, after: JobCursor | None
    ) -> list[Job]:
        """Keyset-paginated on (created_at, id), served by ix_jobs_tenant_created."""
        query = select(jobs).where(jobs.c.tenant == tenant)
        if states:
            query = query.where(jobs.c.state.in_([s.value for s in states]))
        if after is not None:
            query = query.where(
                or_(
                    jobs.c.created_at < after.created_at,
                    and_(jobs.c.created_at == after.created_at, jobs.c.id < after.job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        page = [_job_from(row._mapping) for row in self._db.execute(query)]
        if page:  # every job's segments in one more query, not one per job
            rows = self._db.execute(
                _SEGMENTS_WITH_ASSETS_OF_JOBS, {"job_ids": [j.id for j in page]}
            )
            by_job = _segments_from(row._mapping for row in rows)
            for job in page:
                job.segments = by_job.get(job.id, [])
        return page

    def update(self, job: Job, *, expected_state: JobState | None = None) -> None:
        self._saw(job)
        if expected_state is None:
            self._db.execute(_UPDATE_JOB, {"b_id": job.id, **_changes(job)})
        else:
            values = {"b_id": job.id, "b_state": expected_state.value, **_changes(job)}
            if self._db.execute(_UPDATE_JOB_IN_STATE, values).rowcount != 1:
                raise ConcurrentChange(f"job {job.id} changed meanwhile; read it again")
        self.save_segments(job)

    def save_segments(self, job: Job) -> None:
        self._saw(job)
        changed = job.take_changed_segments()
        if changed:
            self._db.execute(_UPDATE_SEGMENT, [_segment_state_row(s) for s in changed])

    def add_segments(self, job: Job, new_segments: Sequence[Segment]) -> None:
        """Segments already there are left as they are: a plan whose commit was lost to a
        dropped connection, though it went through, is written again by the retry."""
        self._saw(job)
        statement = _upsert(self._db, segments).on_conflict_do_nothing(index_elements=["id"])
        self._db.execute(statement, [_segment_row(s) for s in new_segments])

    def update_segment(self, segment: Segment) -> None:
        self._db.execute(_UPDATE_SEGMENT, _segment_state_row(segment))

    def put_asset(self, asset: Asset) -> None:
        """One upsert on (segment, kind): a retry or a race replaces, never duplicates."""
        upsert = _upsert(self._db, assets)
        replaceable = {
            name: upsert.excluded[name]
            for name in _asset_row(asset)
            if name not in ("segment_id", "kind")
        }
        statement = upsert.on_conflict_do_update(
            index_elements=["segment_id", "kind"], set_=replaceable
        )
        self._db.execute(statement, _asset_row(asset))

    def get_asset(self, asset_id: str, tenant: str | None = None) -> Asset:
        query = select(assets, jobs.c.tenant).join(jobs).where(assets.c.id == asset_id)
        row = self._db.execute(query).first()
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFound(f"asset {asset_id} not found")
        return _asset_from(row._mapping)

    def claimable(
        self, now: datetime, limit: int, queued_before: datetime | None = None
    ) -> list[tuple[str, str]]:
        condition = _claimable(now)
        if queued_before is not None:
            waited = and_(
                jobs.c.updated_at < queued_before,
                or_(jobs.c.rung_at.is_(None), jobs.c.rung_at < queued_before),
            )
            condition = and_(condition, or_(jobs.c.state != JobState.QUEUED.value, waited))
        # A dead worker's jobs first: already started, some segments maybe done.
        expired_first = case((jobs.c.state == JobState.RUNNING.value, 0), else_=1)
        query = (
            select(jobs.c.id, jobs.c.trace_id)
            .where(condition)
            .order_by(expired_first, jobs.c.created_at)
            .limit(limit)
        )
        return [(row.id, row.trace_id) for row in self._db.execute(query)]

    def mark_rung(self, job_ids: Sequence[str], now: datetime) -> None:
        if job_ids:
            self._db.execute(update(jobs).where(jobs.c.id.in_(job_ids)).values(rung_at=now))

    def claim(self, job_id: str, owner: str, now: datetime, until: datetime) -> Job | None:
        """The model decides (`Job.claim`); the write is one UPDATE conditional on the job
        still being claimable, so of two racing claims one wins, on PostgreSQL and SQLite
        alike. NotFound (from `get`) for a job that does not exist."""
        job = self.get(job_id, for_update=True)
        if not job.claimable_at(now):
            return None
        job.claim(owner, now, until)
        taken = self._db.execute(
            update(jobs).where(jobs.c.id == job_id, _claimable(now)).values(_changes(job))
        )
        return job if taken.rowcount == 1 else None

    def hold_lease(self, job_id: str, owner: str, now: datetime, until: datetime) -> None:
        held = self._db.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.lease_owner == owner,
                jobs.c.state == JobState.RUNNING.value,
            )
            .values(lease_expires_at=until)
        )
        if held.rowcount != 1:
            raise LeaseLost(f"job {job_id} is no longer held by {owner}")

    def _load(self, row: Mapping[str, Any]) -> Job:
        job = _job_from(row)
        statement = prepare(_SEGMENTS_WITH_ASSETS, self._db.dialect)
        rows = prepared.execute(self._db, statement, {"job_id": job.id})
        job.segments = _segments_from(rows).get(job.id, [])
        return job


class SqlApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, key: ApiKey) -> None:
        self._db.execute(insert(api_keys).values(**_key_row(key)))

    def get(self, key_id: str) -> ApiKey | None:
        row = self._db.execute(_KEY_BY_ID, {"key_id": key_id}).first()
        if row is None:
            return None
        return ApiKey(row.id, row.tenant, row.key_hash, row.created_at, row.revoked_at)

    def update(self, key: ApiKey) -> None:
        self._db.execute(update(api_keys).where(api_keys.c.id == key.id).values(**_key_row(key)))


class SqlUsageRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, key_id: str, period_start: datetime, chars: int) -> int:
        """One upsert with RETURNING: concurrent charges never lose a count."""
        statement = (
            _upsert(self._db, key_usage)
            .values(key_id=key_id, period_start=period_start, chars=chars)
            .on_conflict_do_update(
                index_elements=["key_id", "period_start"],
                set_={"chars": key_usage.c.chars + chars},
            )
            .returning(key_usage.c.chars)
        )
        return int(self._db.execute(statement).scalar_one())


class SqlOutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        if messages:
            prepared.execute_many(
                self._db,
                prepare(_INSERT_OUTBOX, self._db.dialect, _OUTBOX_COLUMNS),
                [
                    {
                        "topic": m.topic.value,
                        "message_key": m.key,
                        "payload": m.payload,
                        "created_at": m.created_at,
                    }
                    for m in messages
                ],
            )

    def pending(self, limit: int) -> list[OutboxMessage]:
        """SKIP LOCKED on PostgreSQL, so several dispatchers share the work without waiting.

        A webhook row, which a process of an earlier version (still running during a
        rolling upgrade) wrote to the outbox, becomes its webhook delivery here, with the
        id that version's relay gave it, and is marked sent."""
        query = (
            select(outbox)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self._db.execute(query).all()
        earlier = [row for row in rows if row.topic == _EARLIER_WEBHOOKS]
        for row in earlier:
            event = JobEvent.from_dict(row.payload["event"])
            delivery = webhook_delivery(event, row.payload["url"])
            if delivery is not None:
                SqlWebhookRepository(self._db).add(delivery)
        self.mark_sent([row.id for row in earlier], datetime.now(UTC))
        return [
            OutboxMessage(
                topic=Topic(row.topic),
                key=row.message_key,
                payload=row.payload,
                created_at=row.created_at,
                id=row.id,
            )
            for row in rows
            if row.topic != _EARLIER_WEBHOOKS
        ]

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self._db.execute(update(outbox).where(outbox.c.id.in_(ids)).values(sent_at=now))

    def events_after(
        self, position: int, limit: int, job_id: str | None = None
    ) -> list[tuple[int, JobEvent]]:
        """On the primary key, or (for one job) on the index of keys and ids."""
        query = select(outbox.c.id, outbox.c.payload).where(
            outbox.c.topic == Topic.EVENTS.value, outbox.c.id > position
        )
        if job_id is not None:
            query = query.where(outbox.c.message_key == job_id)
        rows = self._db.execute(query.order_by(outbox.c.id).limit(limit))
        return [(row.id, JobEvent.from_dict(row.payload)) for row in rows]

    def latest_event(self, job_id: str) -> tuple[int, JobEvent] | None:
        query = (
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.message_key == job_id, outbox.c.topic == Topic.EVENTS.value)
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        row = self._db.execute(query).first()
        return (row.id, JobEvent.from_dict(row.payload)) if row is not None else None

    def latest_position(self) -> int:
        return self._db.execute(select(func.max(outbox.c.id))).scalar() or 0

    def recorded_after(self, position: int, limit: int) -> list[tuple[int, JobEvent | None]]:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.payload)
            .where(outbox.c.id > position)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [
            (row.id, JobEvent.from_dict(row.payload) if row.topic == Topic.EVENTS.value else None)
            for row in self._db.execute(query)
        ]

    def backlog(self) -> tuple[int, datetime | None]:
        """Counted on the partial index of unsent rows."""
        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.sent_at.is_(None)
        )
        count, oldest = self._db.execute(query).one()
        return int(count), oldest


class SqlUnitOfWork(UnitOfWork):
    """One connection and one transaction; leaving without commit() rolls back.

    A `read_only` unit of work reads a consistent snapshot without taking SQLite's write
    lock, so queries never queue behind writers. `events` hears of committed job events."""

    def __init__(
        self, engine: Engine, *, read_only: bool = False, events: EventSink | None = None
    ) -> None:
        super().__init__(events)
        self._engine = engine
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        try:
            self._connection = self._engine.connect()
            begin(self._connection, read_only=self._read_only)
        except Exception as error:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if _unreachable(error, self._engine, at_connect=True):
                raise _unavailable(error) from None
            raise
        self.jobs = SqlJobRepository(self._connection)
        self.keys = SqlApiKeyRepository(self._connection)
        self.usage = SqlUsageRepository(self._connection)
        self.outbox = SqlOutboxRepository(self._connection)
        self.webhooks = SqlWebhookRepository(self._connection)
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Ends the transaction; a lost or refused connection, here or in the block, is
        DatabaseUnavailable (in our words: the driver's text, with SQL and addresses, is
        logged, not raised)."""
        failure = exc_info[1]
        try:
            super().__exit__(*exc_info)
        except Exception as error:  # rolling back on a dead connection
            if failure is None or not _unreachable(failure, self._engine):
                if not _unreachable(error, self._engine):
                    raise
                log.debug("ending a transaction failed after %r", failure)
                raise _unavailable(error) from None
        if isinstance(failure, Exception) and _unreachable(failure, self._engine):
            raise _unavailable(failure) from None

    def _commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()

    def _rollback(self) -> None:
        assert self._connection is not None
        self._connection.rollback()

    def _close(self) -> None:
        assert self._connection is not None
        self._connection.close()
        self._connection = None


def _job_row(job: Job) -> dict[str, Any]:
    row = {name: getattr(job, name) for name in _JOB_FIELDS}
    row["state"] = job.state.value
    row["audio_type"] = job.audio_type.value
    return row


_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300", "57014")
"""PostgreSQL SQLSTATEs of a database we cannot use now: connection exceptions (class 08),
an administrator or crash shutdown, a server starting up, too many connections, and a
statement cancelled (by the statement timeout: the server is too busy to answer)."""


def _unreachable(error: BaseException, engine: Engine, *, at_connect: bool = False) -> bool:
    """Whether the database, not the statement, failed: refused or dropped connections,
    a server shutting down, no free connection in the pool, SQLite busy past its timeout.
    Schema and SQL errors, constraint violations and the like are not (they are faults
    of ours, and stay loud). Raw driver errors count too: the hot statements run on the
    driver directly (`sql/prepared.py`)."""
    if isinstance(error, SqlAlchemyTimeout):
        return True  # the pool had no connection to give within its timeout
    driver_errors = engine.dialect.loaded_dbapi.Error
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        original: BaseException | None = error.orig
    elif isinstance(error, driver_errors):
        original = error
        if engine.dialect.is_disconnect(error, None, None):
            return True
    else:
        return False
    state = getattr(original, "sqlstate", None)
    if state:
        return state.startswith(_UNAVAILABLE_STATES)
    if engine.dialect.name == "sqlite":
        return "database is locked" in str(original) or "unable to open" in str(original)
    # No SQLSTATE: the driver failed before the server answered (refused, timed out).
    return at_connect or isinstance(original, engine.dialect.loaded_dbapi.OperationalError)


def _unavailable(error: BaseException) -> DatabaseUnavailable:
    original = getattr(error, "orig", None) or error
    reason = (str(original).strip().splitlines() or [""])[0]
    # Debug only: the callers tell an outage once each way (stories_core.outages).
    log.debug("database unavailable: %s: %s", type(original).__name__, reason[:200])
    return DatabaseUnavailable("the database did not answer; try again shortly")


def _changes(job: Job) -> dict[str, Any]:
    """The job's columns its operations may change (its text, request and tenant never do)."""
    row = {name: getattr(job, name) for name in _CHANGEABLE_JOB_FIELDS}
    row["state"] = job.state.value
    return row


def _segment_state_row(segment: Segment) -> dict[str, Any]:
    return {"b_id": segment.id, "state": segment.state.value, "error": segment.error}


def _segment_row(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "job_id": segment.job_id,
        "idx": segment.index,
        "start_offset": segment.start,
        "end_offset": segment.end,
        "title": segment.title,
        "text": segment.text,
        "state": segment.state.value,
        "error": segment.error,
    }


def _asset_row(asset: Asset) -> dict[str, Any]:
    return {
        "id": asset.id,
        "job_id": asset.job_id,
        "segment_id": asset.segment_id,
        "kind": asset.kind.value,
        "blob_key": asset.key,
        "content_type": asset.content_type,
        "size": asset.size,
        "checksum": asset.checksum,
        "metadata": asset.metadata,
    }


_EARLIER_WEBHOOKS = "webhooks"
"""The outbox topic of webhooks before deliveries were recorded with their change."""


def _upsert(connection: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT for the connection's dialect (PostgreSQL and SQLite share it)."""
    dialect_insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
    return dialect_insert[connection.dialect.name](table)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Queued, or running under a lease that has expired (its worker is presumed dead)."""
    return or_(
        jobs.c.state == JobState.QUEUED.value,
        and_(
            jobs.c.state == JobState.RUNNING.value,
            or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now),
        ),
    )


def _job_from(row: Mapping[str, Any]) -> Job:
    """The job's own row (the inverse of _job_row); its segments are loaded beside it."""
    values = {name: row[name] for name in ("id", *_JOB_FIELDS)}
    values["state"] = JobState(values["state"])
    values["audio_type"] = AudioType(values["audio_type"])
    return Job(**values)


def _segments_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Segment]]:
    """Segments by job id, in order, each with its assets, from segment-with-asset rows (a
    row per asset, or one with NULL asset columns for a segment that has none yet)."""
    by_id: dict[str, Segment] = {}
    for values in rows:
        segment = by_id.get(values["id"])
        if segment is None:
            segment = by_id[values["id"]] = Segment(
                id=values["id"],
                job_id=values["job_id"],
                index=values["idx"],
                start=values["start_offset"],
                end=values["end_offset"],
                title=values["title"],
                text=values["text"],
                state=SegmentState(values["state"]),
                error=values["error"],
            )
        if values["asset_id"] is not None:
            segment.assets.append(_asset_from(values, prefix="asset_"))
    by_job: dict[str, list[Segment]] = {}
    for segment in by_id.values():
        by_job.setdefault(segment.job_id, []).append(segment)
    return by_job


def _asset_from(values: Mapping[str, Any], prefix: str = "") -> Asset:
    return Asset(
        id=values[f"{prefix}id"],
        job_id=values[f"{prefix}job_id"],
        segment_id=values[f"{prefix}segment_id"],
        kind=AssetKind(values[f"{prefix}kind"]),
        key=values[f"{prefix}blob_key"],
        content_type=values[f"{prefix}content_type"],
        size=values[f"{prefix}size"],
        checksum=values[f"{prefix}checksum"],
        metadata=values[f"{prefix}metadata"],
    )


def _key_row(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant": key.tenant,
        "key_hash": key.key_hash,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }
