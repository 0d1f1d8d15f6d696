"""Fakes of the core's ports, for unit tests. They behave like the real adapters."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from stories_core.errors import (
    AlreadyExists,
    ConcurrentChange,
    GenerationError,
    LeaseLost,
    NotFound,
)
from stories_core.events import JobEvent
from stories_core.generation import (
    ContentStyle,
    Media,
    Narration,
    SegmentBrief,
    SegmentSpan,
    SpokenLine,
)
from stories_core.model import (
    ApiKey,
    Asset,
    AudioType,
    Job,
    JobState,
    OutboxMessage,
    Segment,
    Topic,
    WebhookAttempt,
    WebhookDelivery,
    WebhookState,
)
from stories_core.ports import EventSink, JobCursor, UnitOfWork

STYLE = ContentStyle(
    name="plain", description="A plain test style.", tone="plain", image_style="plain"
)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class InMemoryJobRepository:
    """Stores deep copies, so callers see only what was committed, as with a database."""

    def __init__(self, store: dict[str, Job], rung: dict[str, datetime]) -> None:
        self._store = store
        self._rung = rung  # job id -> when the sweeper last rang it again
        self.seen: list[Job] = []

    def _saw(self, job: Job) -> Job:
        if not any(seen is job for seen in self.seen):
            self.seen.append(job)
        return job

    def _stored(self, job: Job) -> Job:
        """A copy without the operations' bookkeeping, as a database row would be."""
        stored = copy.deepcopy(job)
        stored.take_events()
        stored.take_changed_segments()
        return stored

    def add(self, job: Job) -> None:
        if job.request_id and self.find_by_request_id(job.tenant, job.request_id):
            raise AlreadyExists(f"request_id {job.request_id!r} is already taken")
        self._store[job.id] = self._stored(job)
        self._saw(job)

    def get(self, job_id: str, tenant: str | None = None, *, for_update: bool = False) -> Job:
        job = self._store.get(job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            raise NotFound(f"job {job_id} not found")
        return self._saw(copy.deepcopy(job))

    def find_by_request_id(self, tenant: str, request_id: str) -> Job | None:
        for job in self._store.values():
            if job.tenant == tenant and job.request_id == request_id:
                return self._saw(copy.deepcopy(job))
        return None

    def list(
        self, tenant: str, *, states: Sequence[JobState], limit: int, after: JobCursor | None
    ) -> list[Job]:
        jobs = sorted(
            (j for j in self._store.values() if j.tenant == tenant),
            key=JobCursor.after,
            reverse=True,
        )
        if states:
            jobs = [j for j in jobs if j.state in states]
        if after is not None:
            jobs = [j for j in jobs if JobCursor.after(j) < after]
        return [copy.deepcopy(j) for j in jobs[:limit]]

    def update(self, job: Job, *, expected_state: JobState | None = None) -> None:
        self._saw(job)
        stored = self._store[job.id]
        if expected_state is not None and stored.state is not expected_state:
            raise ConcurrentChange(f"job {job.id} changed meanwhile; read it again")
        segments = stored.segments
        self._store[job.id] = replace(self._stored(job), segments=segments)
        self.save_segments(job)

    def save_segments(self, job: Job) -> None:
        self._saw(job)
        for segment in job.take_changed_segments():
            self.update_segment(segment)

    def add_segments(self, job: Job, segments: Sequence[Segment]) -> None:
        self._saw(job)
        self._store[job.id].segments.extend(copy.deepcopy(list(segments)))

    def _segment(self, segment_id: str) -> Segment:
        for job in self._store.values():
            for segment in job.segments:
                if segment.id == segment_id:
                    return segment
        raise NotFound(segment_id)

    def update_segment(self, segment: Segment) -> None:
        stored = self._segment(segment.id)
        stored.state, stored.error = segment.state, segment.error

    def put_asset(self, asset: Asset) -> None:
        segment = self._segment(asset.segment_id)
        segment.assets = [a for a in segment.assets if a.kind is not asset.kind]
        segment.assets.append(copy.deepcopy(asset))
        segment.assets.sort(key=lambda a: a.kind.value)

    def get_asset(self, asset_id: str, tenant: str | None = None) -> Asset:
        for job in self._store.values():
            found = job.asset(asset_id)
            if found is not None and (tenant is None or job.tenant == tenant):
                return copy.deepcopy(found)
        raise NotFound(f"asset {asset_id} not found")

    def claimable(
        self, now: datetime, limit: int, queued_before: datetime | None = None
    ) -> list[tuple[str, str]]:
        jobs = sorted(
            self._store.values(), key=lambda j: (j.state is not JobState.RUNNING, j.created_at)
        )
        if queued_before is not None:
            jobs = [
                j
                for j in jobs
                if j.state is not JobState.QUEUED
                or (
                    j.updated_at < queued_before
                    and self._rung.get(j.id, j.updated_at) < queued_before
                )
            ]
        return [(j.id, j.trace_id) for j in jobs if j.claimable_at(now)][:limit]

    def mark_rung(self, job_ids: Sequence[str], now: datetime) -> None:
        for job_id in job_ids:
            self._rung[job_id] = now

    def claim(self, job_id: str, owner: str, now: datetime, until: datetime) -> Job | None:
        if job_id not in self._store:
            raise NotFound(f"job {job_id} not found")
        if not self._store[job_id].claimable_at(now):
            return None
        job = self.get(job_id)
        job.claim(owner, now, until)
        self._store[job_id] = self._stored(job)
        return job

    def hold_lease(self, job_id: str, owner: str, now: datetime, until: datetime) -> None:
        job = self._store[job_id]
        if job.lease_owner != owner or job.state is not JobState.RUNNING:
            raise LeaseLost(f"job {job_id} is no longer held by {owner}")
        job.lease_expires_at = until


class InMemoryApiKeyRepository:
    def __init__(self, store: dict[str, ApiKey]) -> None:
        self._store = store

    def add(self, key: ApiKey) -> None:
        self._store[key.id] = copy.deepcopy(key)

    def get(self, key_id: str) -> ApiKey | None:
        return copy.deepcopy(self._store.get(key_id))

    def update(self, key: ApiKey) -> None:
        self._store[key.id] = copy.deepcopy(key)


class InMemoryUsageRepository:
    def __init__(self, store: dict[tuple[str, datetime], int]) -> None:
        self._store = store

    def add(self, key_id: str, period_start: datetime, chars: int) -> int:
        total = self._store.get((key_id, period_start), 0) + chars
        self._store[(key_id, period_start)] = total
        return total


class InMemoryOutboxRepository:
    def __init__(self, store: list[OutboxMessage], sent: set[int]) -> None:
        self._store = store
        self._sent = sent

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            self._store.append(replace(copy.deepcopy(message), id=len(self._store) + 1))

    def pending(self, limit: int) -> list[OutboxMessage]:
        return [copy.deepcopy(m) for m in self._store if m.id not in self._sent][:limit]

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        self._sent.update(ids)

    def backlog(self) -> tuple[int, datetime | None]:
        unsent = [m.created_at for m in self._store if m.id not in self._sent]
        return len(unsent), min(unsent, default=None)

    def events_after(
        self, position: int, limit: int, job_id: str | None = None
    ) -> list[tuple[int, JobEvent]]:
        found = [
            (m.id, JobEvent.from_dict(m.payload))
            for m in self._store
            if m.topic is Topic.EVENTS and m.id is not None and m.id > position
            and (job_id is None or m.key == job_id)
        ]  # fmt: skip
        return found[:limit]

    def latest_event(self, job_id: str) -> tuple[int, JobEvent] | None:
        found = self.events_after(0, len(self._store), job_id)
        return found[-1] if found else None

    def latest_position(self) -> int:
        return len(self._store)

    def recorded_after(self, position: int, limit: int) -> list[tuple[int, JobEvent | None]]:
        return [
            (m.id, JobEvent.from_dict(m.payload) if m.topic is Topic.EVENTS else None)
            for m in self._store
            if m.id is not None and m.id > position
        ][:limit]


class InMemoryWebhookRepository:
    def __init__(
        self, deliveries: dict[str, WebhookDelivery], attempts: list[WebhookAttempt]
    ) -> None:
        self._deliveries = deliveries
        self._attempts = attempts

    def add(self, delivery: WebhookDelivery) -> None:
        self._deliveries.setdefault(delivery.id, copy.deepcopy(delivery))

    def due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        due = [
            d
            for d in self._deliveries.values()
            if d.state is WebhookState.PENDING and d.next_attempt_at <= now
        ]
        due.sort(key=lambda d: d.next_attempt_at)
        return copy.deepcopy(due[:limit])

    def update(self, delivery: WebhookDelivery) -> None:
        self._deliveries[delivery.id] = copy.deepcopy(delivery)

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self._attempts.append(attempt)

    def for_job(self, job_id: str) -> list[WebhookDelivery]:
        return [copy.deepcopy(d) for d in self._deliveries.values() if d.job_id == job_id]

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        return sorted(
            (a for a in self._attempts if a.delivery_id == delivery_id), key=lambda a: a.number
        )


class InMemoryUnitOfWork(UnitOfWork):
    """Works on a copy of the database's tables and swaps it in on commit."""

    def __init__(self, database: InMemoryDatabase) -> None:
        super().__init__(database.events)
        self._database = database

    def __enter__(self) -> InMemoryUnitOfWork:
        self._database.lock.acquire()
        self._open(self._database.tables)
        return self

    def _open(self, tables: Tables) -> None:
        self._working = copy.deepcopy(tables)
        self.jobs = InMemoryJobRepository(self._working.jobs, self._working.rung)
        self.keys = InMemoryApiKeyRepository(self._working.keys)
        self.usage = InMemoryUsageRepository(self._working.usage)
        self.outbox = InMemoryOutboxRepository(self._working.outbox, self._working.outbox_sent)
        self.webhooks = InMemoryWebhookRepository(
            self._working.webhooks, self._working.webhook_attempts
        )

    def _commit(self) -> None:
        self._database.tables = self._working
        self._database.commits += 1
        seen = self.jobs.seen
        self._open(self._working)
        self.jobs.seen = seen  # as a database connection's repository keeps them

    def _rollback(self) -> None:
        self._open(self._database.tables)

    def _close(self) -> None:
        self._database.lock.release()


@dataclass
class Tables:
    jobs: dict[str, Job] = field(default_factory=dict)
    rung: dict[str, datetime] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    usage: dict[tuple[str, datetime], int] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    outbox_sent: set[int] = field(default_factory=set)
    webhooks: dict[str, WebhookDelivery] = field(default_factory=dict)
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)


class InMemoryDatabase:
    """`events` hears of the job events its units of work commit."""

    def __init__(self, events: EventSink | None = None) -> None:
        self.events = events
        self.tables = Tables()
        self.lock = threading.RLock()
        self.commits = 0

    @property
    def jobs(self) -> dict[str, Job]:
        return self.tables.jobs

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = bytes(data)
        self.puts += 1

    def open(self, key: str, offset: int = 0, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        if key not in self.objects:
            raise NotFound(key)
        data = self.objects[key]
        for start in range(offset, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def size(self, key: str) -> int:
        if key not in self.objects:
            raise NotFound(key)
        return len(self.objects[key])

    def url(self, key: str) -> None:
        return None  # no address a client could use, as a local folder


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def emit(self, event: JobEvent) -> None:
        self.events.append(event)


class RecordingQueue:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, job_id: str, trace_id: str) -> None:
        self.published.append((job_id, trace_id))


class ScriptedBackend:
    """A backend that splits on blank lines, sleeps per call, counts calls and concurrency,
    and can be told to fail a given segment."""

    name = "scripted"

    def __init__(self, delay: float = 0.0, fail_on_index: int | None = None) -> None:
        self.delay = delay
        self.fail_on_index = fail_on_index
        self.voices: set[str] | None = None  # languages it speaks; None for every one
        self.calls: dict[str, int] = {}
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def _call(self, method: str) -> None:
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
        finally:
            with self._lock:
                self.active -= 1

    def speaks(self, language: str) -> bool:
        return self.voices is None or language in self.voices

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> list[SegmentSpan]:
        self._call("segment")
        spans, start = [], 0
        for part in text.split("\n\n"):
            spans.append(SegmentSpan(start, start + len(part), f"Part {len(spans) + 1}"))
            start += len(part) + 2
        return spans[:pictures] if len(spans) <= pictures else spans

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        self._call("narrate")
        if audio_type is AudioType.NONE:
            return Narration(())
        return Narration((SpokenLine("narrator", brief.text),))

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        self._call("speak")
        return Media(narration.text.encode(), "audio/mpeg", "mp3", {"duration_seconds": 1.0})

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        self._call("image_prompt")
        return f"picture of {brief.title}"

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        self._call("draw")
        if brief.index == self.fail_on_index:
            raise GenerationError("the model is down", code="BACKEND_UNAVAILABLE", retryable=True)
        return Media(prompt.encode(), "image/png", "png", {"width": 4, "height": 3})


class FakeCatalog:
    def __init__(self, backend: object, style: ContentStyle = STYLE) -> None:
        self._backend = backend
        self._style = style

    def style_names(self) -> list[str]:
        return [self._style.name]

    def backend_names(self) -> list[str]:
        return [self._backend.name]  # type: ignore[attr-defined]

    def style(self, name: str) -> ContentStyle:
        return self._style

    def backend(self, name: str):  # type: ignore[no-untyped-def]
        return self._backend


class FixedLanguage:
    """A LanguageDetector that always answers the same tag."""

    def __init__(self, tag: str = "en") -> None:
        self.tag = tag
        self.texts: list[str] = []

    def detect(self, text: str) -> str:
        self.texts.append(text)
        return self.tag
