"""Jobs, segments and assets, with the state machines that govern them and the operations
of a job's life.

Each operation (`Job.create`, `claim`, `plan`, `finish_segment`, `succeed`, `fail`,
`cancel`, `release`, `retry`) checks its transition, changes the job, its segments and
its lease as one, and records the domain event it causes in `Job.events`. The unit of
work (`stories_core.ports.UnitOfWork`) writes recorded events to the outbox in the same
transaction, so use cases load, call and commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from stories_core.errors import IllegalTransition
from stories_core.events import TERMINAL_EVENT, EventKind, JobEvent
from stories_core.states import JobState, SegmentState

# Fixed namespace so that ids derived from (job, index, kind) are the same on every retry.
_ID_NAMESPACE = uuid.UUID("5d9a4e62-38a1-4c59-9c8e-4b1f3f6b6f10")


class AudioType(StrEnum):
    FREE_SPEECH = "free_speech"
    PODCAST = "podcast"
    VERBATIM = "verbatim"
    NONE = "none"


class AssetKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"


# RUNNING -> QUEUED releases a job a worker gave back (shutdown, lost lease);
# FAILED -> QUEUED is an explicit retry, which keeps finished segments.
JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}
    ),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.CANCELLED: frozenset(),
}

# A failed or cancelled segment is queued again when its job is retried.
SEGMENT_TRANSITIONS: dict[SegmentState, frozenset[SegmentState]] = {
    SegmentState.QUEUED: frozenset(
        {SegmentState.RUNNING, SegmentState.CANCELLED, SegmentState.FAILED}
    ),
    SegmentState.RUNNING: frozenset(
        {SegmentState.SUCCEEDED, SegmentState.FAILED, SegmentState.CANCELLED, SegmentState.QUEUED}
    ),
    SegmentState.FAILED: frozenset({SegmentState.QUEUED, SegmentState.RUNNING}),
    SegmentState.CANCELLED: frozenset({SegmentState.QUEUED}),
    SegmentState.SUCCEEDED: frozenset(),
}


def new_id() -> str:
    return str(uuid.uuid4())


def derived_id(*parts: object) -> str:
    """An id that is the same whenever it is derived from the same parts (retries reuse it)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(str(part) for part in parts)))


def blob_key(tenant: str, job_id: str, index: int, filename: str) -> str:
    """The object key of a segment's file: a retry that makes the same bytes (the filename
    names them) writes the same object again instead of a second one."""
    return f"tenants/{tenant}/jobs/{job_id}/segments/{index}/{filename}"


@dataclass
class Asset:
    id: str
    job_id: str
    segment_id: str
    kind: AssetKind
    key: str
    content_type: str
    size: int
    checksum: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def id_for(segment_id: str, kind: AssetKind) -> str:
        return derived_id(segment_id, kind.value)


@dataclass
class Segment:
    id: str
    job_id: str
    index: int
    start: int
    end: int
    title: str
    text: str
    state: SegmentState = SegmentState.QUEUED
    error: str | None = None
    assets: list[Asset] = field(default_factory=list)

    def transition(self, new_state: SegmentState) -> None:
        if new_state not in SEGMENT_TRANSITIONS[self.state]:
            raise IllegalTransition(
                f"segment {self.index} cannot go from {self.state.value} to {new_state.value}"
            )
        self.state = new_state

    def asset(self, kind: AssetKind) -> Asset | None:
        return next((asset for asset in self.assets if asset.kind is kind), None)


@dataclass
class Job:
    id: str
    tenant: str
    text: str
    content_type: str
    pictures: int
    audio_type: AudioType
    backend: str
    created_at: datetime
    updated_at: datetime
    state: JobState = JobState.QUEUED
    trace_id: str = ""
    trace_parent: str = ""
    """The W3C `traceparent` of the span that created the job ("" when none was traced):
    the parent of later work on it that has no nearer one (a swept or stolen job)."""
    request_id: str | None = None
    request_fingerprint: str | None = None
    webhook_url: str | None = None
    language: str = "en"
    """The text's language, a BCP-47 tag: given with the request, or detected."""
    title: str = ""
    """The text's first top-level heading ("" when it has none); see `story_title`."""
    segments: list[Segment] = field(default_factory=list)
    markup: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_retryable: bool = False
    """Whether retrying the job later may succeed (the backend said so)."""
    attempt: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    events: list[JobEvent] = field(default_factory=list, repr=False, compare=False)
    """Domain events recorded by the operations below and not yet written to the outbox."""
    _changed_segments: dict[str, Segment] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def create(cls, *, now: datetime, **fields: Any) -> Job:
        """A new QUEUED job (its fields as the constructor takes them); records JOB_QUEUED,
        whose outbox messages include the workers' doorbell."""
        job = cls(**fields, created_at=now, updated_at=now)
        job._record(EventKind.JOB_QUEUED, now)
        return job

    def transition(self, new_state: JobState, now: datetime) -> None:
        if new_state not in JOB_TRANSITIONS[self.state]:
            raise IllegalTransition(
                f"job {self.id} cannot go from {self.state.value} to {new_state.value}",
                job_id=self.id,
                state=self.state.value,
            )
        self.state = new_state
        self.updated_at = now

    def claimable_at(self, now: datetime) -> bool:
        """Queued, or running under a lease that has expired (its worker is presumed dead).
        The repositories' queries for claimable jobs say the same in SQL."""
        expired = self.lease_expires_at is None or self.lease_expires_at < now
        return self.state is JobState.QUEUED or (self.state is JobState.RUNNING and expired)

    def claim(self, owner: str, now: datetime, until: datetime) -> None:
        """Take the lease for `owner` until `until`: RUNNING, one more attempt; records
        JOB_STARTED. IllegalTransition when the job is not claimable now."""
        if not self.claimable_at(now):
            raise IllegalTransition(
                f"job {self.id} is {self.state.value} and not claimable",
                job_id=self.id,
                state=self.state.value,
            )
        if self.state is not JobState.RUNNING:
            self.transition(JobState.RUNNING, now)
        self.updated_at = now
        self.lease_owner, self.lease_expires_at = owner, until
        self.attempt += 1
        self._record(EventKind.JOB_STARTED, now)

    def extend_lease(self, until: datetime) -> None:
        """The running job's lease now lasts until `until` (the store's fence said it is
        still ours: `JobRepository.hold_lease`)."""
        self._require(JobState.RUNNING, "leased")
        self.lease_expires_at = until

    def plan(self, segments: Sequence[Segment], now: datetime) -> None:
        """The running job's segments, once; records SEGMENTS_PLANNED."""
        self._require(JobState.RUNNING, "planned")
        if self.segments:
            raise IllegalTransition(
                f"job {self.id} is already split into segments",
                job_id=self.id,
                state=self.state.value,
            )
        self.segments = list(segments)
        self._record(EventKind.SEGMENTS_PLANNED, now)

    def start_segment(self, segment: Segment) -> None:
        """A segment of the running job is being generated. Kept in memory only: a write
        per segment to record it would tell readers nothing the job's state does not."""
        self._require(JobState.RUNNING, "generating segments")
        if segment.state is not SegmentState.RUNNING:
            segment.transition(SegmentState.RUNNING)

    def finish_segment(self, segment: Segment, assets: Sequence[Asset], now: datetime) -> None:
        """A running segment is done, with its assets; records SEGMENT_DONE."""
        self._require(JobState.RUNNING, "given a finished segment")
        segment.assets = sorted(assets, key=lambda a: a.kind.value)
        self._set_segment(segment, SegmentState.SUCCEEDED)
        self._record(EventKind.SEGMENT_DONE, now, segment_index=segment.index)

    def succeed(self, markup: str, now: datetime) -> None:
        """Every segment is done: SUCCEEDED with its markup, lease cleared; records
        JOB_SUCCEEDED."""
        unfinished = [s.index for s in self.segments if s.state is not SegmentState.SUCCEEDED]
        if unfinished:
            raise IllegalTransition(
                f"job {self.id} has unfinished segments {unfinished}",
                job_id=self.id,
                state=self.state.value,
            )
        self.transition(JobState.SUCCEEDED, now)
        self.markup = markup
        self._end_lease()
        self._record(TERMINAL_EVENT[JobState.SUCCEEDED], now)

    def fail(self, code: str, message: str, now: datetime, *, retryable: bool = False) -> None:
        """FAILED with the error (`code` a domain reason; `retryable` whether trying later
        may help), running segments FAILED, lease cleared; records JOB_FAILED."""
        self.transition(JobState.FAILED, now)
        self._set_segments({SegmentState.RUNNING}, SegmentState.FAILED)
        self.error_code, self.error_message, self.error_retryable = code, message, retryable
        self._end_lease()
        self._record(TERMINAL_EVENT[JobState.FAILED], now)

    def cancel(self, now: datetime) -> None:
        """Stop a queued or running job: CANCELLED, its unfinished segments CANCELLED, lease
        cleared; records JOB_CANCELLED. Cancelling a cancelled job changes nothing; a job
        that succeeded or failed cannot be cancelled (IllegalTransition)."""
        if self.state is JobState.CANCELLED:
            return
        if self.state.is_terminal:
            raise IllegalTransition(
                f"job {self.id} has already {self.state.value}",
                job_id=self.id,
                state=self.state.value,
            )
        self.transition(JobState.CANCELLED, now)
        self._set_segments({SegmentState.QUEUED, SegmentState.RUNNING}, SegmentState.CANCELLED)
        self._end_lease()
        self._record(TERMINAL_EVENT[JobState.CANCELLED], now)

    def release(self, now: datetime) -> None:
        """Give back a running job (its worker is stopping): queued again with its finished
        segments kept and its running ones queued; records JOB_QUEUED (a new doorbell)."""
        self._require(JobState.RUNNING, "released")
        self._set_segments({SegmentState.RUNNING}, SegmentState.QUEUED)
        self._requeue(now)

    def retry(self, now: datetime) -> None:
        """Queue a failed job again: its error cleared, its finished segments kept, the rest
        queued; records JOB_QUEUED (a new doorbell)."""
        if self.state is not JobState.FAILED:
            raise IllegalTransition(
                f"only a failed job can be retried; job {self.id} is {self.state.value}",
                job_id=self.id,
                state=self.state.value,
            )
        self.error_code = self.error_message = None
        self.error_retryable = False
        self._set_segments({SegmentState.FAILED, SegmentState.CANCELLED}, SegmentState.QUEUED)
        self._requeue(now)

    def event(
        self, kind: EventKind, now: datetime, *, segment_index: int | None = None
    ) -> JobEvent:
        """An event of `kind` describing the job as it is now (recorded or not)."""
        return JobEvent(
            kind=kind,
            job_id=self.id,
            tenant=self.tenant,
            state=self.state,
            progress=self.progress,
            occurred_at=now,
            trace_id=self.trace_id,
            content_type=self.content_type,
            backend=self.backend,
            segment_index=segment_index,
            segment_count=len(self.segments) or None,
            error_code=self.error_code,
            error_message=self.error_message,
            error_retryable=self.error_retryable,
        )

    def memento(self) -> Callable[[], None]:
        """A way back to the job as it is now. Calling the result restores the job's fields,
        its recorded events and changed segments, and each segment's state and assets (the
        same Segment objects, which the code running them holds): for a write tried again
        after its transaction rolled back, whose operation must then be applied afresh."""
        fields_now = {f.name: getattr(self, f.name) for f in fields(self)}
        segments_now = [(s, s.state, list(s.assets)) for s in self.segments]
        events_now, changed_now = list(self.events), dict(self._changed_segments)
        segment_list = list(self.segments)

        def restore() -> None:
            for name, value in fields_now.items():
                setattr(self, name, value)
            self.segments = list(segment_list)
            self.events, self._changed_segments = list(events_now), dict(changed_now)
            for segment, state, assets in segments_now:
                segment.state, segment.assets = state, list(assets)

        return restore

    def take_events(self) -> list[JobEvent]:
        """The recorded events, oldest first, forgetting them (the unit of work writes
        them, or drops them when its transaction rolls back)."""
        events, self.events = self.events, []
        return events

    def take_changed_segments(self) -> list[Segment]:
        """The segments whose state the operations changed since the last call, in order
        (the repository writes them with the job)."""
        changed = sorted(self._changed_segments.values(), key=lambda s: s.index)
        self._changed_segments.clear()
        return changed

    def _requeue(self, now: datetime) -> None:
        self.transition(JobState.QUEUED, now)
        self._end_lease()
        self._record(EventKind.JOB_QUEUED, now)

    def _require(self, state: JobState, doing: str) -> None:
        if self.state is not state:
            raise IllegalTransition(
                f"job {self.id} is {self.state.value}; only a {state.value} job can be {doing}",
                job_id=self.id,
                state=self.state.value,
            )

    def _end_lease(self) -> None:
        self.lease_owner = self.lease_expires_at = None

    def _set_segments(self, states: set[SegmentState], new_state: SegmentState) -> None:
        for segment in self.segments:
            if segment.state in states:
                self._set_segment(segment, new_state)

    def _set_segment(self, segment: Segment, new_state: SegmentState) -> None:
        segment.transition(new_state)
        self._changed_segments[segment.id] = segment

    def _record(self, kind: EventKind, now: datetime, *, segment_index: int | None = None) -> None:
        self.events.append(self.event(kind, now, segment_index=segment_index))

    @property
    def story_title(self) -> str:
        """The story's title: the text's first top-level heading, else the first segment's
        title ("" before segmentation)."""
        return self.title or (self.segments[0].title if self.segments else "")

    @property
    def progress(self) -> float:
        """Share of segments finished, 0.0 before segmentation."""
        if not self.segments:
            return 1.0 if self.state is JobState.SUCCEEDED else 0.0
        done = sum(1 for s in self.segments if s.state is SegmentState.SUCCEEDED)
        return done / len(self.segments)

    def asset(self, asset_id: str) -> Asset | None:
        for segment in self.segments:
            for asset in segment.assets:
                if asset.id == asset_id:
                    return asset
        return None


@dataclass
class ApiKey:
    """A tenant's credential; only the hash of its secret is kept."""

    id: str
    tenant: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class Topic(StrEnum):
    """Logical outbox topics; the messaging adapter maps them to real topic names."""

    JOBS = "jobs"
    EVENTS = "events"


@dataclass
class OutboxMessage:
    """A message recorded in the same transaction as the change it announces, and relayed
    to the broker afterwards (at least once) by the dispatcher."""

    topic: Topic
    key: str
    payload: dict[str, Any]
    created_at: datetime
    id: int | None = None


def outbox_messages(event: JobEvent, traceparent: str = "") -> list[OutboxMessage]:
    """What a recorded event becomes in the outbox: the event itself (events topic); for
    JOB_QUEUED, the workers' doorbell (jobs topic: the job and trace ids, and the W3C
    `traceparent` of the span that queued it in the job's trace, when given; keyed by job
    id)."""
    at = event.occurred_at
    messages = []
    if event.kind is EventKind.JOB_QUEUED:
        doorbell = {"job_id": event.job_id, "trace_id": event.trace_id}
        if traceparent:
            doorbell["traceparent"] = traceparent
        messages.append(OutboxMessage(Topic.JOBS, event.job_id, doorbell, at))
    messages.append(OutboxMessage(Topic.EVENTS, event.job_id, event.to_dict(), at))
    return messages


def webhook_delivery(
    event: JobEvent, webhook_url: str | None, traceparent: str = ""
) -> WebhookDelivery | None:
    """The delivery a recorded event asks for: a terminal event of a job with a webhook
    URL, due at once; None for any other. Recorded with the change, like the outbox, so
    a webhook never waits for the broker. `traceparent`: the delivery's parent span."""
    if not webhook_url or not event.state.is_terminal:
        return None
    payload = event.to_dict()
    return WebhookDelivery(
        id=derived_id(
            "webhook", webhook_url, event.job_id, payload["kind"], payload["occurred_at"]
        ),
        job_id=event.job_id,
        url=webhook_url,
        event=payload,
        created_at=event.occurred_at,
        next_attempt_at=event.occurred_at,
        trace_parent=traceparent,
    )


class WebhookState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class WebhookDelivery:
    """A job's terminal event, to be POSTed to the job's webhook URL until the receiver
    accepts it or the attempts run out. Its id is derived from the event, so recording
    the same event twice still makes one delivery."""

    id: str
    job_id: str
    url: str
    event: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    state: WebhookState = WebhookState.PENDING
    attempts: int = 0
    last_error: str | None = None
    trace_parent: str = ""
    """The W3C `traceparent` of the span that recorded the event: the delivery's parent."""


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a delivery and what came of it (a status code, or why there was none)."""

    delivery_id: str
    number: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
