"""The StoryService servicer: thin translation between stories.v1 and the core's use cases."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from cachetools import LRUCache

from stories.v1 import common_pb2, stories_pb2, stories_pb2_grpc
from stories_adapters.event_feed import OutboxEventFeed
from stories_adapters.grpc.errors import OutOfRange, to_status
from stories_adapters.grpc.gate import Gate
from stories_adapters.grpc.mapping import (
    AUDIO_TYPE_FROM_PROTO,
    AUDIO_TYPES,
    JOB_STATE_FROM_PROTO,
    asset_to_proto,
    event_to_proto,
    job_to_proto,
    timestamp,
)
from stories_core.errors import InvalidInput
from stories_core.events import JobEvent
from stories_core.model import ApiKey, AudioType, JobState
from stories_core.plugins import Registry
from stories_core.ports import BlobStore, Clock
from stories_core.services.control import CancelJob, RetryJob
from stories_core.services.query import JobQueries
from stories_core.services.submit import JobRequest, Limits, SubmitJob
from stories_core.services.watch import WatchJob

T = TypeVar("T")
TRACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
IMMUTABLE_STATES = frozenset({JobState.SUCCEEDED, JobState.CANCELLED})
CHUNK_BYTES = 64 * 1024
MAX_PAGE_SIZE = 500
JOB_FRAMING_BYTES = 8  # a repeated field's tag and length, at most, per job
RESPONSE_HEADROOM_BYTES = 1024  # the page token and the rest of a ListJobsResponse


class StoryServicer(stories_pb2_grpc.StoryServiceServicer):
    def __init__(
        self,
        gate: Gate,
        submit: SubmitJob,
        queries: JobQueries,
        cancel: CancelJob,
        retry: RetryJob,
        watch: WatchJob,
        feed: OutboxEventFeed,
        blobs: BlobStore,
        registry: Registry,
        limits: Limits,
        clock: Clock,
        default_backend: str,
        download_ttl_seconds: float | None,
        max_response_bytes: int,
        finished_cache_size: int = 2048,
    ) -> None:
        self._response_budget = max_response_bytes - RESPONSE_HEADROOM_BYTES
        self._gate = gate
        self._submit = submit
        self._queries = queries
        self._cancel = cancel
        self._retry = retry
        self._watch = watch
        self._feed = feed
        self._blobs = blobs
        self._registry = registry
        self._limits = limits
        self._clock = clock
        self._default_backend = default_backend
        self._download_ttl = download_ttl_seconds
        # Succeeded and cancelled jobs never change again: clients polling for results
        # are answered from memory. (Failed jobs can be retried, so they are not kept.)
        self._finished: LRUCache[tuple[str, bool], tuple[str, stories_pb2.GetJobResponse]]
        self._finished = LRUCache(maxsize=finished_cache_size)
        self._finished_lock = threading.Lock()

    async def _unary(self, context: grpc.aio.ServicerContext, body: Callable[[ApiKey], T]) -> T:
        """`body(key)` on a worker thread (it reads the database), the event loop free for
        other calls and streams meanwhile; an error is answered as `to_status` says."""
        metadata = _metadata(context)
        try:
            return await asyncio.to_thread(lambda: body(self._gate.admit(metadata)))
        except Exception as error:
            await context.abort_with_status(to_status(error))
            raise  # abort_with_status raises; this keeps type checkers honest

    async def CreateJob(self, request, context):
        trace_id = _metadata(context).get("x-trace-id")

        def create(key: ApiKey) -> stories_pb2.CreateJobResponse:
            wrong: list[tuple[str, str]] = []
            if trace_id is not None and not TRACE_ID.fullmatch(trace_id):
                wrong.append(("x-trace-id", "must be 1-64 letters, digits, '-' or '_'"))
            try:
                audio_type = _audio_type(request.audio_type)
            except InvalidInput as error:
                wrong.extend(error.violations)
                audio_type = AudioType.FREE_SPEECH  # so the other fields are checked too
            job_request = JobRequest(
                text=request.text,
                content_type=request.content_type,
                pictures=request.pictures,
                audio_type=audio_type.value,
                backend=request.backend or self._default_backend,
                tenant=key.tenant,
                request_id=request.request_id or None,
                webhook_url=request.webhook_url or None,
                language=request.language or None,
            )
            if wrong:  # every wrong field in one answer, and nothing recorded
                try:
                    self._submit.check(job_request)
                except InvalidInput as error:
                    wrong.extend(error.violations)
                raise InvalidInput.of(wrong)
            job = self._submit(job_request, trace_id=trace_id, api_key_id=key.id)
            return stories_pb2.CreateJobResponse(job=job_to_proto(job, full=True))

        return await self._unary(context, create)

    async def GetJob(self, request, context):
        def get(key: ApiKey) -> stories_pb2.GetJobResponse:
            job_id = _required("job_id", request.job_id)
            full = _view(request.view, default=stories_pb2.JOB_VIEW_FULL)
            with self._finished_lock:
                cached = self._finished.get((job_id, full))
            if cached is not None and cached[0] == key.tenant:
                return cached[1]
            job = self._queries.get(job_id, key.tenant)
            response = stories_pb2.GetJobResponse(job=job_to_proto(job, full=full))
            if job.state in IMMUTABLE_STATES:
                with self._finished_lock:
                    self._finished[(job_id, full)] = (job.tenant, response)
            return response

        return await self._unary(context, get)

    async def ListJobs(self, request, context):
        def list_jobs(key: ApiKey) -> stories_pb2.ListJobsResponse:
            if not request.page_size >= 0:
                raise InvalidInput("page_size", "must not be negative")
            full = _view(request.view, default=stories_pb2.JOB_VIEW_BASIC)
            states = []
            for state in request.states:
                if state not in JOB_STATE_FROM_PROTO:
                    raise InvalidInput("states", f"unknown job state {state}")
                states.append(JOB_STATE_FROM_PROTO[state])
            page = self._queries.list(
                key.tenant,
                states=states,
                page_size=min(request.page_size or 50, MAX_PAGE_SIZE),
                page_token=request.page_token,
            )
            messages = [job_to_proto(job, full=full) for job in page.jobs]
            # A page of full jobs can outgrow the largest message: it then ends early,
            # its token continuing after the last job that fits (AIP-158 allows it).
            keep, size = 0, 0
            for message in messages:
                size += message.ByteSize() + JOB_FRAMING_BYTES
                if keep and size > self._response_budget:
                    break
                keep += 1
            page = self._queries.shortened(page, keep, key.tenant, states)
            return stories_pb2.ListJobsResponse(
                jobs=messages[:keep], next_page_token=page.next_page_token
            )

        return await self._unary(context, list_jobs)

    async def CancelJob(self, request, context):
        def cancel(key: ApiKey) -> stories_pb2.CancelJobResponse:
            job = self._cancel(_required("job_id", request.job_id), key.tenant)
            return stories_pb2.CancelJobResponse(job=job_to_proto(job, full=True))

        return await self._unary(context, cancel)

    async def RetryJob(self, request, context):
        def retry(key: ApiKey) -> stories_pb2.RetryJobResponse:
            job = self._retry(_required("job_id", request.job_id), key.tenant)
            return stories_pb2.RetryJobResponse(job=job_to_proto(job, full=True))

        return await self._unary(context, retry)

    async def WatchJob(self, request, context):
        """On the event loop: an open stream costs a coroutine and a queue, no thread."""
        metadata = _metadata(context)
        try:
            key = await asyncio.to_thread(self._gate.admit, metadata)
            with self._gate.streaming(key):
                job_id = _required("job_id", request.job_id)
                after = _resume_position(request.resume_token)
                loop = asyncio.get_running_loop()
                with self._feed.subscribe_async(job_id, loop) as live:
                    watch = await asyncio.to_thread(self._watch.open, job_id, key.tenant, after)
                    for position, event in watch.recorded:
                        yield _watched(position, event)
                    while not watch.done:
                        item = await live.next()
                        if watch.accept(item):
                            yield _watched(*item)
        except Exception as error:
            await context.abort_with_status(to_status(error))

    async def GetAsset(self, request, context):
        def get_asset(key: ApiKey) -> stories_pb2.GetAssetResponse:
            asset = self._queries.asset(_required("asset_id", request.asset_id), key.tenant)
            message = asset_to_proto(asset)
            url = self._blobs.url(asset.key)
            if url is None:  # embedded: no address a remote client can use; ReadAsset it
                return stories_pb2.GetAssetResponse(asset=message)
            message.download_uri = url
            if self._download_ttl:
                expiry = self._clock.now() + timedelta(seconds=self._download_ttl)
                message.download_expire_time.CopyFrom(timestamp(expiry))
            return stories_pb2.GetAssetResponse(asset=message)

        return await self._unary(context, get_asset)

    async def ReadAsset(self, request, context):
        """Each chunk is read on a worker thread; between chunks the stream holds none."""
        metadata = _metadata(context)
        try:
            key = await asyncio.to_thread(self._gate.admit, metadata)
            with self._gate.streaming(key):
                asset_id = _required("asset_id", request.asset_id)
                asset = await asyncio.to_thread(self._queries.asset, asset_id, key.tenant)
                if request.offset < 0:
                    raise InvalidInput("offset", "must not be negative")
                if request.offset > asset.size:
                    raise OutOfRange("offset", f"is past the end of the asset ({asset.size} bytes)")
                position = request.offset
                chunks = self._blobs.open(asset.key, request.offset, CHUNK_BYTES)
                while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                    yield stories_pb2.ReadAssetResponse(
                        data=chunk, offset=position, size_bytes=asset.size
                    )
                    position += len(chunk)
        except Exception as error:
            await context.abort_with_status(to_status(error))

    async def ListCapabilities(self, request, context):
        def capabilities(key: ApiKey) -> stories_pb2.ListCapabilitiesResponse:
            style_plugin = {s: p.name for p in self._registry.plugins for s in p.content_styles}
            backend_plugin = {b: p.name for p in self._registry.plugins for b in p.backends}
            return stories_pb2.ListCapabilitiesResponse(
                content_styles=[
                    stories_pb2.ContentStyle(
                        name=name, description=style.description, plugin=style_plugin[name]
                    )
                    for name, style in sorted(self._registry.styles.items())
                ],
                backends=[
                    stories_pb2.Backend(
                        name=name,
                        description=factory.description,
                        plugin=backend_plugin[name],
                    )
                    for name, factory in sorted(self._registry.backends.items())
                ],
                audio_types=list(AUDIO_TYPES.values()),
                max_input_chars=self._limits.max_input_chars,
                max_pictures=self._limits.max_pictures,
                default_backend=self._default_backend,
            )

        return await self._unary(context, capabilities)


def _audio_type(value: int) -> AudioType:
    if value == common_pb2.AUDIO_TYPE_UNSPECIFIED:
        return AudioType.FREE_SPEECH
    if value not in AUDIO_TYPE_FROM_PROTO:
        known = [n for n in common_pb2.AudioType.keys() if not n.endswith("UNSPECIFIED")]  # noqa: SIM118
        raise InvalidInput(
            "audio_type", f"unknown value {value}; expected one of: {', '.join(known)}"
        )
    return AUDIO_TYPE_FROM_PROTO[value]


def _view(value: int, *, default: int) -> bool:
    """Whether `view` (or `default`, when unspecified) asks for the FULL view; an unknown
    value is InvalidInput, like every other enum on input."""
    if value == stories_pb2.JOB_VIEW_UNSPECIFIED:
        value = default
    if value not in stories_pb2.JobView.values():
        raise InvalidInput("view", _unknown_enum(value, stories_pb2.JobView))
    return value == stories_pb2.JOB_VIEW_FULL


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {
        key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)
    }


def _watched(position: int, event: JobEvent) -> stories_pb2.WatchJobResponse:
    return stories_pb2.WatchJobResponse(event=event_to_proto(event), resume_token=str(position))


def _resume_position(token: str) -> int | None:
    """The position a resume token stands for (it is the event's position in the log)."""
    if not token:
        return None
    if not token.isascii() or not token.isdigit() or len(token) > 19:
        raise InvalidInput(
            "resume_token", "is not a token this service gave; send none to start anew"
        )
    return int(token)


def _unknown_enum(value: int, enum: Any) -> str:
    """'unknown value 99; expected one of: ...' naming the enum's values (UNSPECIFIED aside)."""
    known = [name for name in enum.keys() if not name.endswith("_UNSPECIFIED")]  # noqa: SIM118
    return f"unknown value {value}; expected one of: {', '.join(known)}"


MAX_ID_CHARS = 64
"""Ids are UUIDs (36 characters); a longer one is refused before it goes anywhere, an error
message included."""


def _required(field: str, value: str) -> str:
    if not value:
        raise InvalidInput(field, "is required")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInput(
            field, f"has {len(value):,} characters; an id has at most {MAX_ID_CHARS}"
        )
    return value
