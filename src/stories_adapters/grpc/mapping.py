"""Conversions between domain objects and stories.v1 messages, both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from stories.v1 import common_pb2, events_pb2, stories_pb2
from stories_core.events import EventKind, JobEvent
from stories_core.model import (
    Asset,
    AssetKind,
    AudioType,
    Job,
    JobState,
    Segment,
    SegmentState,
)

JOB_STATES = {
    JobState.QUEUED: common_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: common_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: common_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: common_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: common_pb2.JOB_STATE_CANCELLED,
}
SEGMENT_STATES = {
    SegmentState.QUEUED: common_pb2.SEGMENT_STATE_QUEUED,
    SegmentState.RUNNING: common_pb2.SEGMENT_STATE_RUNNING,
    SegmentState.SUCCEEDED: common_pb2.SEGMENT_STATE_SUCCEEDED,
    SegmentState.FAILED: common_pb2.SEGMENT_STATE_FAILED,
    SegmentState.CANCELLED: common_pb2.SEGMENT_STATE_CANCELLED,
}
AUDIO_TYPES = {
    AudioType.FREE_SPEECH: common_pb2.AUDIO_TYPE_FREE_SPEECH,
    AudioType.PODCAST: common_pb2.AUDIO_TYPE_PODCAST,
    AudioType.VERBATIM: common_pb2.AUDIO_TYPE_VERBATIM,
    AudioType.NONE: common_pb2.AUDIO_TYPE_NONE,
}
ASSET_KINDS = {
    AssetKind.IMAGE: common_pb2.ASSET_KIND_IMAGE,
    AssetKind.AUDIO: common_pb2.ASSET_KIND_AUDIO,
}
EVENT_KINDS = {
    EventKind.JOB_QUEUED: events_pb2.JOB_EVENT_KIND_QUEUED,
    EventKind.JOB_STARTED: events_pb2.JOB_EVENT_KIND_STARTED,
    EventKind.SEGMENTS_PLANNED: events_pb2.JOB_EVENT_KIND_SEGMENTS_PLANNED,
    EventKind.SEGMENT_DONE: events_pb2.JOB_EVENT_KIND_SEGMENT_DONE,
    EventKind.JOB_SUCCEEDED: events_pb2.JOB_EVENT_KIND_SUCCEEDED,
    EventKind.JOB_FAILED: events_pb2.JOB_EVENT_KIND_FAILED,
    EventKind.JOB_CANCELLED: events_pb2.JOB_EVENT_KIND_CANCELLED,
}
AUDIO_TYPE_FROM_PROTO = {v: k for k, v in AUDIO_TYPES.items()}
JOB_STATE_FROM_PROTO = {v: k for k, v in JOB_STATES.items()}
_SEGMENT_STATE_FROM_PROTO = {v: k for k, v in SEGMENT_STATES.items()}
_ASSET_KIND_FROM_PROTO = {v: k for k, v in ASSET_KINDS.items()}
EVENT_KIND_FROM_PROTO = {v: k for k, v in EVENT_KINDS.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """Exact to the microsecond; a subtraction, where Timestamp.FromDatetime goes through
    time tuples (it shows on every GetJob)."""
    if moment is None:
        return None
    since_epoch = moment - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since_epoch.days * 86_400 + since_epoch.seconds,
        nanos=since_epoch.microseconds * 1_000,
    )


def _struct(values: dict[str, object]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(values)
    return result


def asset_to_proto(asset: Asset) -> common_pb2.Asset:
    return common_pb2.Asset(
        id=asset.id,
        job_id=asset.job_id,
        segment_id=asset.segment_id,
        kind=ASSET_KINDS[asset.kind],
        content_type=asset.content_type,
        size_bytes=asset.size,
        checksum=asset.checksum,
        metadata=_struct(asset.metadata),
    )


def segment_to_proto(segment: Segment) -> common_pb2.Segment:
    return common_pb2.Segment(
        id=segment.id,
        index=segment.index,
        start_offset=segment.start,
        end_offset=segment.end,
        title=segment.title,
        text=segment.text,
        state=SEGMENT_STATES[segment.state],
        assets=[asset_to_proto(a) for a in segment.assets],
    )


def job_to_proto(job: Job, *, full: bool) -> stories_pb2.Job:
    message = stories_pb2.Job(
        id=job.id,
        state=JOB_STATES[job.state],
        content_type=job.content_type,
        pictures=job.pictures,
        audio_type=AUDIO_TYPES[job.audio_type],
        backend=job.backend,
        webhook_url=job.webhook_url or "",
        request_id=job.request_id or "",
        text_length=len(job.text),
        progress=job.progress,
        create_time=timestamp(job.created_at),
        update_time=timestamp(job.updated_at),
        trace_id=job.trace_id,
        attempt=job.attempt,
        language=job.language,
        title=job.story_title,
    )
    if job.error_code:
        message.error.CopyFrom(
            common_pb2.JobError(
                code=job.error_code, message=job.error_message, retryable=job.error_retryable
            )
        )
    if full:
        message.segments.extend(segment_to_proto(s) for s in job.segments)
        message.markup = job.markup or ""
        message.text = job.text
    return message


def event_to_proto(event: JobEvent, *, with_tenant: bool = False) -> events_pb2.JobEvent:
    message = events_pb2.JobEvent(
        kind=EVENT_KINDS[event.kind],
        job_id=event.job_id,
        state=JOB_STATES[event.state],
        progress=event.progress,
        segment_index=event.segment_index or 0,
        segment_count=event.segment_count or 0,
        occur_time=timestamp(event.occurred_at),
        trace_id=event.trace_id,
        tenant=event.tenant if with_tenant else "",
    )
    if event.error_code:
        message.error.CopyFrom(
            common_pb2.JobError(
                code=event.error_code,
                message=event.error_message or "",
                retryable=event.error_retryable,
            )
        )
    return message


def job_from_proto(message: stories_pb2.Job) -> Job:
    """A FULL-view job as a domain object, so a client can reuse the story writer."""
    job = Job(
        id=message.id,
        tenant="",
        text=message.text,
        content_type=message.content_type,
        pictures=message.pictures,
        audio_type=AUDIO_TYPE_FROM_PROTO[message.audio_type],
        backend=message.backend,
        created_at=message.create_time.ToDatetime(UTC),
        updated_at=message.update_time.ToDatetime(UTC),
        state=JOB_STATE_FROM_PROTO[message.state],
        trace_id=message.trace_id,
        markup=message.markup or None,
        error_code=message.error.code or None,
        error_message=message.error.message or None,
        error_retryable=message.error.retryable,
        attempt=message.attempt,
        language=message.language,
        title=message.title,
    )
    job.segments = [
        Segment(
            id=s.id,
            job_id=job.id,
            index=s.index,
            start=s.start_offset,
            end=s.end_offset,
            title=s.title,
            text=s.text,
            state=_SEGMENT_STATE_FROM_PROTO[s.state],
            assets=[
                Asset(
                    id=a.id,
                    job_id=a.job_id,
                    segment_id=a.segment_id,
                    kind=_ASSET_KIND_FROM_PROTO[a.kind],
                    key=a.id,
                    content_type=a.content_type,
                    size=a.size_bytes,
                    checksum=a.checksum,
                    metadata=_plain(json_format.MessageToDict(a.metadata)),
                )
                for a in s.assets
            ],
        )
        for s in message.segments
    ]
    return job


def _plain(value: Any) -> Any:
    """Struct numbers are doubles: give whole numbers back their int type (1024, not 1024.0)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
