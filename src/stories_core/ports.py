"""The ports: what the core needs from the outside world, as Protocols (and the unit of
work, an abstract class: collecting events is the core's part of it).

Adapters implement them; the container wires them; tests use fakes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self, runtime_checkable

from stories_core.events import JobEvent
from stories_core.generation import ContentStyle, Media, Narration, SegmentBrief, SegmentSpan
from stories_core.model import (
    ApiKey,
    Asset,
    AudioType,
    Job,
    JobState,
    OutboxMessage,
    Segment,
    WebhookAttempt,
    WebhookDelivery,
    outbox_messages,
    webhook_delivery,
)
from stories_core.telemetry import StageTiming, traceparent_in


@runtime_checkable
class GeneratorBackend(Protocol):
    """Writes, speaks and draws. Every call may block; the core runs calls concurrently."""

    name: str

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> Sequence[SegmentSpan]:
        """Split `text` (in `language`, a BCP-47 tag) into at most `pictures` spans; the
        core checks and repairs them."""
        ...

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        """A script for the segment: retelling, two-host dialogue, or the text itself."""
        ...

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        """Speech audio for a script; metadata carries `duration_seconds`."""
        ...

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        """The prompt an image model would get for this segment."""
        ...

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        """An image for the segment; metadata carries `width` and `height`."""
        ...


def speaks(backend: GeneratorBackend, language: str) -> bool:
    """Whether the backend has a voice for `language` (a BCP-47 tag). A backend may offer
    `speaks(language) -> bool`; one that does not is taken to speak every language."""
    check = getattr(backend, "speaks", None)
    return True if check is None else bool(check(language))


class LanguageDetector(Protocol):
    """Tells which language a text is written in."""

    def detect(self, text: str) -> str:
        """The text's most likely language as a BCP-47 tag ("en", "zh", "ar"...); "en"
        when the text gives no clue (no letters)."""
        ...


class BackendFactory(Protocol):
    """What a plugin registers: a named way to build a backend from settings."""

    name: str
    description: str

    def create(self, environ: Mapping[str, str]) -> GeneratorBackend:
        """Build the backend, reading its own `STORIES_<NAME>_*` settings from `environ`."""
        ...


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str


@dataclass(frozen=True, order=True)
class JobCursor:
    """A place in a tenant's jobs, newest first: the (created_at, id) of the last job seen."""

    created_at: datetime
    job_id: str

    @classmethod
    def after(cls, job: Job) -> JobCursor:
        return cls(job.created_at, job.id)


class JobRepository(Protocol):
    """Jobs with their segments and assets. Every job it hands out (`get`, `claim`,
    `find_by_request_id`) or writes is kept in `seen`, so the unit of work can collect the
    events the job recorded."""

    seen: list[Job]

    def add(self, job: Job) -> None:
        """AlreadyExists when the tenant's request_id is already taken."""
        ...

    def get(self, job_id: str, tenant: str | None = None, *, for_update: bool = False) -> Job:
        """The job with its segments and assets; NotFound if absent or another tenant's.
        `for_update` locks the job's row until the transaction ends (where supported)."""
        ...

    def find_by_request_id(self, tenant: str, request_id: str) -> Job | None: ...

    def list(
        self, tenant: str, *, states: Sequence[JobState], limit: int, after: JobCursor | None
    ) -> list[Job]:
        """Up to `limit` jobs, newest first (created_at, then id), strictly after `after`."""
        ...

    def update(self, job: Job, *, expected_state: JobState | None = None) -> None:
        """Write the job's own fields (state, markup, error, lease) and the segments its
        operations changed (`Job.take_changed_segments`), not its assets.
        With `expected_state`, only if the stored state is still that one; otherwise
        ConcurrentChange (compare-and-set, so a racing writer is never overwritten)."""
        ...

    def add_segments(self, job: Job, segments: Sequence[Segment]) -> None: ...

    def save_segments(self, job: Job) -> None:
        """Write the segments the job's operations changed (`Job.take_changed_segments`),
        not the job's own row."""
        ...

    def update_segment(self, segment: Segment) -> None: ...

    def put_asset(self, asset: Asset) -> None:
        """Insert or replace the asset of (segment, kind): a retry never adds a second one."""
        ...

    def get_asset(self, asset_id: str, tenant: str | None = None) -> Asset:
        """NotFound if absent or another tenant's."""
        ...

    def claimable(
        self, now: datetime, limit: int, queued_before: datetime | None = None
    ) -> list[tuple[str, str]]:
        """(job id, trace id) of jobs a worker could claim now: first those running with an
        expired lease (a dead worker's: started, some segments maybe done), then those
        queued (when `queued_before` is given: since before it, and not rung again by
        the sweeper since then either); oldest first within each."""
        ...

    def mark_rung(self, job_ids: Sequence[str], now: datetime) -> None:
        """The sweeper rang these jobs' doorbells again at `now` (see `claimable`)."""
        ...

    def claim(self, job_id: str, owner: str, now: datetime, until: datetime) -> Job | None:
        """`Job.claim` the job and write it, atomically: None if it is not claimable now
        (someone else holds the lease, or it has ended); NotFound if there is no such job."""
        ...

    def hold_lease(self, job_id: str, owner: str, now: datetime, until: datetime) -> None:
        """The write fence: raise LeaseLost unless `owner` still holds the running job's
        lease, and extend the lease to `until`."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def update(self, key: ApiKey) -> None: ...


class UsageRepository(Protocol):
    def add(self, key_id: str, period_start: datetime, chars: int) -> int:
        """Add to the key's count for the period and return the new total (atomically)."""
        ...


class OutboxRepository(Protocol):
    def add(self, messages: Sequence[OutboxMessage]) -> None: ...

    def pending(self, limit: int) -> list[OutboxMessage]:
        """The oldest unsent messages, in order; rows another dispatcher has locked are
        skipped (where the database can)."""
        ...

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None: ...

    def backlog(self) -> tuple[int, datetime | None]:
        """How many messages are unsent, and when the oldest of them was recorded."""
        ...

    def events_after(
        self, position: int, limit: int, job_id: str | None = None
    ) -> list[tuple[int, JobEvent]]:
        """Recorded job events (sent or not) whose position is above `position`, in
        order, with their positions; only `job_id`'s when given. A position is the outbox
        row's id: one job's events get rising positions in the order they were recorded
        (every write of a job holds its row), though another job's may commit later with
        a lower one."""
        ...

    def latest_event(self, job_id: str) -> tuple[int, JobEvent] | None:
        """The job's most recently recorded event and its position; None when it has none."""
        ...

    def latest_position(self) -> int:
        """The highest position recorded so far (0 when none)."""
        ...

    def recorded_after(self, position: int, limit: int) -> list[tuple[int, JobEvent | None]]:
        """Every message recorded above `position`, in order: its position, and its event
        (None for a message that is no job event, a doorbell). For a reader that must see
        every position to know which ones it has not seen yet."""
        ...


class WebhookRepository(Protocol):
    def add(self, delivery: WebhookDelivery) -> None:
        """Record a delivery; one whose id is already recorded is left as it is."""
        ...

    def due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries whose next attempt is due, oldest first; rows another
        dispatcher has locked are skipped (where the database can)."""
        ...

    def update(self, delivery: WebhookDelivery) -> None: ...

    def add_attempt(self, attempt: WebhookAttempt) -> None: ...

    def for_job(self, job_id: str) -> list[WebhookDelivery]: ...

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        """The delivery's attempts, first to last."""
        ...


class UnitOfWork(ABC):
    """One transaction. Leaving the block without `commit()` rolls everything back.

    The jobs its repository loaded or wrote are `seen`: on `commit()` the events their
    operations recorded go to the outbox (and a terminal one to its webhook deliveries)
    in the same transaction, and once the transaction
    has committed they go to the event sink (nobody hears of a change that was rolled
    back). This is cosmicpython's `collect_new_events`, with the outbox as the bus.
    """

    jobs: JobRepository
    keys: ApiKeyRepository
    usage: UsageRepository
    outbox: OutboxRepository
    webhooks: WebhookRepository

    def __init__(self, events: EventSink | None = None) -> None:
        self._sink = events

    @abstractmethod
    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None:
        """Roll back whatever was not committed, and end the transaction."""
        try:
            self.rollback()
        finally:
            self._close()

    def commit(self) -> None:
        events = [
            (event, job.webhook_url, traceparent_in(job.trace_id, job.trace_parent))
            for job in self.jobs.seen
            for event in job.take_events()
        ]
        if events:
            self.outbox.add([m for e, _, parent in events for m in outbox_messages(e, parent)])
        for event, url, parent in events:
            if (delivery := webhook_delivery(event, url, parent)) is not None:
                self.webhooks.add(delivery)
        self._commit()
        if self._sink is not None:
            for event, _, _ in events:
                self._sink.emit(event)

    def rollback(self) -> None:
        for job in self.jobs.seen:  # what they describe did not happen
            job.take_events()
            job.take_changed_segments()
        self._rollback()

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class BlobStore(Protocol):
    """Object storage for asset bytes, under deterministic keys."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store atomically: a reader sees the old object or the whole new one."""
        ...

    def open(self, key: str, offset: int = 0, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Stream the bytes from `offset` on, in chunks."""
        ...

    def size(self, key: str) -> int: ...

    def url(self, key: str) -> str | None:
        """Where a remote client can download the object (a presigned URL); None when the
        store has no such address (a local folder: clients stream it with ReadAsset)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class JobQueue(Protocol):
    """The doorbell that tells a worker a job is waiting; the database holds the job itself."""

    def publish(self, job_id: str, trace_id: str) -> None: ...


class MessagePublisher(Protocol):
    """Where the dispatcher relays outbox messages (a broker, or in-process queues)."""

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Return once every message is acknowledged; raise if any was not."""
        ...


class WebhookSender(Protocol):
    """Makes the HTTP call of a webhook delivery."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` to `url` and return the response's status code. Raise WebhookRefused
        for a destination that must never be called, and any other error when no response
        came (timeouts, refused connections, DNS failures)."""
        ...


class WebhookDestinations(Protocol):
    """Says whether webhooks may call a URL's host (checked when a job is created, and
    again at every delivery: DNS can change)."""

    def refusal(self, url: str) -> str | None:
        """Why `url` (absolute http or https) may not be called, in a client's words; None
        when it may (a host that does not resolve now is not refused: it may later)."""
        ...


class EventSink(Protocol):
    """Receives job events as they happen (progress bars, watch streams, the outbox)."""

    def emit(self, event: JobEvent) -> None: ...


class Telemetry(Protocol):
    """Where the figures of a job's work go (metrics); `NoTelemetry` drops them."""

    def job_created(self, style: str, backend: str) -> None:
        """A new job was recorded (a repeated request_id that finds its job is not one)."""
        ...

    def stage_finished(self, timing: StageTiming) -> None:
        """A stage of a job is done (see `StageTiming`), well or not."""
        ...

    def lease(self, outcome: str) -> None:
        """A lease renewal: `renewed`, or `lost` (another worker holds the job now)."""
        ...

    def running(self, change: int) -> None:
        """This process runs `change` more jobs (+1 at a claim, -1 when the run ends)."""
        ...


class NoTelemetry:
    """A Telemetry that keeps nothing: for processes without metrics, and tests."""

    def job_created(self, style: str, backend: str) -> None:
        """Dropped."""

    def stage_finished(self, timing: StageTiming) -> None:
        """Dropped."""

    def lease(self, outcome: str) -> None:
        """Dropped."""

    def running(self, change: int) -> None:
        """Dropped."""


class EventFeed(Protocol):
    """Job events as they are recorded, from one source per process, to every watcher."""

    def subscribe(self, job_id: str) -> AbstractContextManager[EventSubscription]:
        """Events of `job_id` recorded from now on, while the block runs."""
        ...


class EventSubscription(Protocol):
    def next(self, timeout: float) -> tuple[int, JobEvent] | None:
        """The next event and its position, in the order recorded; None after `timeout`
        seconds without one."""
        ...


class Catalog(Protocol):
    """The content styles and backends available, by name (from the plugins)."""

    def style_names(self) -> list[str]: ...

    def backend_names(self) -> list[str]: ...

    def style(self, name: str) -> ContentStyle: ...

    def backend(self, name: str) -> GeneratorBackend: ...
