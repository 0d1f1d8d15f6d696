"""Jobs, segments and assets, with the state machines that govern them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from stories_core.errors import IllegalTransition

# Fixed namespace so that ids derived from (job, index, kind) are the same on every retry.
_ID_NAMESPACE = uuid.UUID("5d9a4e62-38a1-4c59-9c8e-4b1f3f6b6f10")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


class SegmentState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AudioType(StrEnum):
    FREE_SPEECH = "free_speech"
    PODCAST = "podcast"
    VERBATIM = "verbatim"
    NONE = "none"


class AssetKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

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

    def transition(self, new_state: JobState, now: datetime) -> None:
        if new_state not in JOB_TRANSITIONS[self.state]:
            raise IllegalTransition(
                f"job {self.id} cannot go from {self.state.value} to {new_state.value}"
            )
        self.state = new_state
        self.updated_at = now

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
    WEBHOOKS = "webhooks"


@dataclass
class OutboxMessage:
    """A message recorded in the same transaction as the change it announces, and relayed
    to the broker afterwards (at least once) by the dispatcher."""

    topic: Topic
    key: str
    payload: dict[str, Any]
    created_at: datetime
    id: int | None = None


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


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a delivery and what came of it (a status code, or why there was none)."""

    delivery_id: str
    number: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
