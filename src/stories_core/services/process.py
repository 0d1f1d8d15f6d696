"""Process a job: segment it, then generate every unfinished segment concurrently.

Idempotent: finished segments are skipped, asset ids and blob keys are derived from
(job, segment, kind), so running a job again never duplicates anything. Every write
is fenced by the worker's lease on the job.

An outage of the database or the object store is a pause, not a failure: each step that
calls one (the claim, a blob write, a fenced write) is tried again with exponential backoff
and jitter while the dependency says it is unavailable (`DependencyUnavailable`), for up to
`outage_patience_seconds`. This is the layer that waits out outages (the adapters only
translate failures, after at most a second's retries of one call: a stale pooled
connection, a refused connect). The outage is logged once each way
(`stories_core.outages`), however many calls failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

import tenacity
from opentelemetry.trace import SpanKind

from stories_core import markup
from stories_core.errors import (
    DatabaseUnavailable,
    DependencyUnavailable,
    LeaseLost,
    StorageUnavailable,
    StoriesError,
)
from stories_core.generation import ContentStyle, Media, SegmentBrief
from stories_core.model import (
    Asset,
    AssetKind,
    AudioType,
    Job,
    Segment,
    SegmentState,
    blob_key,
    derived_id,
)
from stories_core.outages import DATABASE, OBJECT_STORE, OutageLog
from stories_core.ports import (
    BlobStore,
    Catalog,
    Clock,
    GeneratorBackend,
    NoTelemetry,
    Telemetry,
    UnitOfWork,
    UnitOfWorkFactory,
)
from stories_core.segmentation import enforce
from stories_core.states import JobState
from stories_core.telemetry import (
    StageTiming,
    counting_retries,
    job_context,
    job_trace,
    tracer,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ProcessingSettings:
    max_concurrent_segments: int = 5
    lease_seconds: float = 15.0
    outage_patience_seconds: float = 300.0
    """How long one step waits out an outage of the database or the object store before
    the job gives up: a job then fails with the dependency's code (retryable), or, when
    the database itself is gone, is left to its lease and the sweeper."""
    outage_backoff_seconds: float = 0.5
    """The first wait after a failed try; it doubles (with jitter) up to the maximum."""
    outage_max_backoff_seconds: float = 5.0


class ProcessJob:
    """Run one job to a terminal state, or give it back if the lease is lost."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        blobs: BlobStore,
        catalog: Catalog,
        clock: Clock,
        settings: ProcessingSettings,
        owner: str,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._catalog = catalog
        self._clock = clock
        self._settings = settings
        self._worker_id = owner
        self._telemetry = telemetry or NoTelemetry()
        self._running: dict[str, str] = {}  # job id -> lease owner of our run of it
        self._released: set[str] = set()  # lease owners of runs we gave back (release)
        self._outages = {
            DatabaseUnavailable: OutageLog(DATABASE),
            StorageUnavailable: OutageLog(OBJECT_STORE),
        }

    def __call__(self, job_id: str, traceparent: str = "") -> Job | None:
        """Process the job; None when another worker holds it or it has already ended.
        NotFound when there is no such job (nothing to run: its doorbell can be dropped).
        `traceparent`: the W3C trace context of the message that asked for the run, the
        parent of the run's span when it is in the job's trace (else the job's own)."""
        return asyncio.run(self._run(job_id, traceparent))

    async def _run(self, job_id: str, traceparent: str) -> Job | None:
        # Each run claims under its own owner id, so two runs in one process (threads, or
        # a repeated message) are fenced from each other like runs in two processes.
        owner = f"{self._worker_id}/{uuid.uuid4().hex[:12]}"
        job = await self._patiently(
            "claiming a job", lambda: self._claim(job_id, owner), DatabaseUnavailable
        )
        if job is None:
            return None
        self._running[job_id] = owner
        self._telemetry.running(+1)
        parent = job_context(job.trace_id, traceparent, job.trace_parent)
        attributes = {
            "stories.job_id": job.id,
            "stories.attempt": job.attempt,
            "stories.content_type": job.content_type,
            "stories.backend": job.backend,
        }
        try:
            with (
                job_trace(job.trace_id),
                tracer.start_as_current_span(
                    "process job", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
                ),
            ):
                return await self._run_claimed(job)
        finally:
            self._running.pop(job_id, None)
            self._telemetry.running(-1)

    async def _run_claimed(self, job: Job) -> Job | None:
        # Each segment runs its audio and image chains side by side, so twice the threads.
        workers = 2 * self._settings.max_concurrent_segments + 1
        with ThreadPoolExecutor(workers, thread_name_prefix=f"job-{job.id[:8]}") as pool:
            run = _Runner(pool)
            heartbeat = asyncio.create_task(self._keep_lease(job))
            try:
                await self._generate(job, run)
            except LeaseLost:
                log.warning("lease on job %s lost; leaving it to its new owner", job.id)
                self._count_lease_lost(job)
                return None
            except DatabaseUnavailable:
                # Its failure could not be recorded either: the lease expires and the
                # sweeper rings the job again.
                log.error("job %s: the database stayed unreachable; left to its lease", job.id)
                raise
            except StoriesError as error:
                retryable = getattr(error, "retryable", False)
                return await self._fail(job, error.code, error.message, retryable=retryable)
            except Exception as error:  # a bug or an unexpected backend fault
                log.exception("job %s failed unexpectedly", job.id)
                # The library's text stays in the log: it may name hosts, keys or paths.
                message = f"the worker failed unexpectedly ({type(error).__name__}); see its log"
                return await self._fail(job, "INTERNAL", message)
            finally:
                heartbeat.cancel()
        return job

    async def _keep_lease(self, job: Job) -> None:
        """Renew the lease while backend calls run long between writes: every third of
        the lease, and a second after each failed try while the database is unreachable
        (a try itself may take up to the connect timeout), so that the lease is ours again
        soon after its return."""
        owner = job.lease_owner
        beat = self._settings.lease_seconds / 3
        pause = beat
        while True:
            await asyncio.sleep(pause)
            try:
                with self._uow_factory() as uow:
                    now = self._clock.now()
                    until = now + timedelta(seconds=self._settings.lease_seconds)
                    uow.jobs.hold_lease(job.id, owner or "", now, until)
                    uow.commit()
                job.extend_lease(until)
                self._outages[DatabaseUnavailable].succeeded()
                self._telemetry.lease("renewed")
                pause = beat
            except LeaseLost:
                self._outages[DatabaseUnavailable].succeeded()  # the database answered
                return  # the next fenced write stops the run
            except DatabaseUnavailable as error:
                self._outages[DatabaseUnavailable].failed(f"renewing a lease: {error.message}")
                pause = min(beat, 1.0)
            except Exception:  # a bug: the next fenced write will tell; keep beating
                log.exception("job %s: lease renewal failed", job.id)

    def release(self, job_id: str) -> bool:
        """Give back a job we hold (a worker shutting down mid-job): queued again, its
        doorbell re-published through the outbox, finished segments kept. Fenced like every
        write: False, changing nothing, when the lease is no longer ours. Our own run of the
        job stops at its next fenced write."""
        owner = self._running.get(job_id)
        if owner is None:
            return False
        now = self._clock.now()
        with self._uow_factory() as uow:
            try:
                uow.jobs.hold_lease(job_id, owner, now, now)
            except LeaseLost:
                return False
            job = uow.jobs.get(job_id)
            job.release(now)
            uow.jobs.update(job)
            uow.commit()
        self._released.add(owner)
        return True

    def _count_lease_lost(self, job: Job) -> None:
        """Count a lease another worker took (ours expired): not a release of our own, nor a
        job cancelled while it ran, which end a run the same way."""
        if job.lease_owner in self._released:
            self._released.discard(job.lease_owner)
            return
        try:
            with self._uow_factory() as uow:
                cancelled = uow.jobs.get(job.id).state is JobState.CANCELLED
        except StoriesError:  # unreadable now: it was not ours to end, so count it
            cancelled = False
        if not cancelled:
            self._telemetry.lease("lost")

    def _claim(self, job_id: str, owner: str) -> Job | None:
        now = self._clock.now()
        until = now + timedelta(seconds=self._settings.lease_seconds)
        with self._uow_factory() as uow:
            job = uow.jobs.claim(job_id, owner, now, until)
            if job is None:
                return None
            uow.commit()
        return job

    async def _generate(self, job: Job, run: _Runner) -> None:
        style = self._catalog.style(job.content_type)
        backend = self._catalog.backend(job.backend)
        if not job.segments:
            await self._plan_segments(job, backend, style, run)
        pending = [s for s in job.segments if s.state is not SegmentState.SUCCEEDED]
        limit = asyncio.Semaphore(self._settings.max_concurrent_segments)
        failed = asyncio.Event()

        async def bounded(segment: Segment) -> None:
            async with limit:
                if failed.is_set():
                    return  # a sibling failed: start nothing new, let running ones finish
                try:
                    with tracer.start_as_current_span(
                        "generate segment", attributes={"stories.segment_index": segment.index}
                    ):
                        await self._generate_segment(job, segment, backend, style, run)
                except Exception:
                    failed.set()
                    raise

        outcomes = await asyncio.gather(*(bounded(s) for s in pending), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise next((e for e in errors if isinstance(e, LeaseLost)), errors[0])
        await self._finish(job)

    async def _plan_segments(
        self, job: Job, backend: GeneratorBackend, style: ContentStyle, run: _Runner
    ) -> None:
        spans = await run(
            self._call, job, "segment", backend.segment, job.text, job.pictures, style, job.language
        )
        checked = enforce(job.text, spans, job.pictures, job.language)
        segments = [
            Segment(
                id=derived_id(job.id, "segment", index),
                job_id=job.id,
                index=index,
                start=span.start,
                end=span.end,
                title=span.title,
                text=job.text[span.start : span.end],
            )
            for index, span in enumerate(checked)
        ]

        def record(uow: UnitOfWork) -> None:
            job.plan(segments, self._clock.now())
            uow.jobs.add_segments(job, segments)

        await self._write(job, "recording the segments", record)

    async def _generate_segment(
        self,
        job: Job,
        segment: Segment,
        backend: GeneratorBackend,
        style: ContentStyle,
        run: _Runner,
    ) -> None:
        job.start_segment(segment)
        brief = SegmentBrief(
            index=segment.index,
            count=len(job.segments),
            title=segment.title,
            text=segment.text,
            story_title=job.story_title,
            language=job.language,
        )

        async def audio_chain() -> Asset | None:
            narration = await run(
                self._call, job, "narrate", backend.narrate, brief, job.audio_type, style
            )
            if job.audio_type is AudioType.NONE or narration.is_empty:
                return None
            narration = replace(narration, language=job.language)
            media = await run(self._call, job, "speak", backend.speak, narration, style)
            return await self._store(
                job, segment, AssetKind.AUDIO, media, run, narration=narration.text
            )

        async def image_chain() -> Asset:
            prompt = await run(self._call, job, "image_prompt", backend.image_prompt, brief, style)
            media = await run(self._call, job, "draw", backend.draw, prompt, brief, style)
            return await self._store(job, segment, AssetKind.IMAGE, media, run, prompt=prompt)

        chains = [image_chain()]
        if job.audio_type is not AudioType.NONE:
            chains.append(audio_chain())
        assets = [asset for asset in await asyncio.gather(*chains) if asset is not None]

        def record(uow: UnitOfWork) -> None:
            for asset in assets:
                uow.jobs.put_asset(asset)
            job.finish_segment(segment, assets, self._clock.now())
            uow.jobs.save_segments(job)

        await self._write(job, f"recording segment {segment.index}", record)

    async def _store(
        self,
        job: Job,
        segment: Segment,
        kind: AssetKind,
        media: Media,
        run: _Runner,
        **extra: str,
    ) -> Asset:
        """Write the bytes first; the asset row comes after, fenced by the lease. The key
        names the content, so a worker that lost its lease (and whose row write will be
        refused) can never change the bytes behind the row its successor wrote."""
        digest = hashlib.sha256(media.data).hexdigest()
        filename = f"{kind.value}-{digest[:16]}.{media.extension}"
        key = blob_key(job.tenant, job.id, segment.index, filename)
        with self._stage(job, "store", {"stories.asset_kind": kind.value}):
            await self._patiently(
                f"storing the {kind.value} of segment {segment.index}",
                lambda: run(self._blobs.put, key, media.data, media.content_type),
                StorageUnavailable,
            )
        return Asset(
            id=Asset.id_for(segment.id, kind),
            job_id=job.id,
            segment_id=segment.id,
            kind=kind,
            key=key,
            content_type=media.content_type,
            size=len(media.data),
            checksum=f"sha256:{digest}",
            metadata={**media.metadata, **extra},
        )

    def _hold_lease(self, uow: UnitOfWork, job: Job) -> None:
        """The write fence: stop unless we still own the job, and extend our lease (here
        too, so the job's next write carries the new expiry)."""
        now = self._clock.now()
        until = now + timedelta(seconds=self._settings.lease_seconds)
        uow.jobs.hold_lease(job.id, job.lease_owner or "", now, until)
        job.extend_lease(until)

    async def _finish(self, job: Job) -> None:
        with self._stage(job, "render"):
            document = markup.render(markup.document_for(job))

        def record(uow: UnitOfWork) -> None:
            job.succeed(document, self._clock.now())
            uow.jobs.update(job)

        await self._write(job, "recording the finished job", record)

    async def _fail(
        self, job: Job, code: str, message: str, *, retryable: bool = False
    ) -> Job | None:
        """Record the failure; None when the job is no longer ours to fail."""

        def record(uow: UnitOfWork) -> None:
            job.fail(code, message, self._clock.now(), retryable=retryable)
            uow.jobs.update(job)

        try:
            await self._write(job, "recording the failed job", record)
        except LeaseLost:
            self._count_lease_lost(job)
            return None
        return job

    async def _write(self, job: Job, step: str, record: Callable[[UnitOfWork], None]) -> None:
        """One fenced transaction: `record(uow)` applies the job's operation and writes what
        it changed. Tried again through a database outage; a failed try is undone in memory
        first (`Job.memento`), so the next applies the operation afresh. LeaseLost when
        the job is no longer ours."""

        def attempt() -> None:
            undo = job.memento()
            try:
                with self._uow_factory() as uow:
                    self._hold_lease(uow, job)
                    record(uow)
                    uow.commit()
            except BaseException:  # whatever ends the try, the job is as it was before it
                undo()
                raise

        await self._patiently(step, attempt, DatabaseUnavailable)

    def _call(self, job: Job, stage: str, function: Callable[..., T], *args: Any) -> T:
        """A backend call, on a thread of the job's pool, as a stage."""
        with self._stage(job, stage, {"stories.backend": job.backend}):
            return function(*args)

    @contextlib.contextmanager
    def _stage(
        self, job: Job, stage: str, attributes: dict[str, str] | None = None
    ) -> Iterator[None]:
        """A stage of the job: a span (its error recorded), and its timing to telemetry."""
        started, outcome = time.perf_counter(), "ok"
        with (
            tracer.start_as_current_span(stage, attributes=attributes),
            counting_retries() as tries,
        ):
            try:
                yield
            except asyncio.CancelledError:
                outcome = "cancelled"  # a sibling failed and the job stopped waiting for it
                raise
            except Exception as error:
                code = getattr(error, "code", None)  # a domain error's; not a method's
                outcome = code if isinstance(code, str) else type(error).__name__
                raise
            finally:
                seconds = time.perf_counter() - started
                timing = StageTiming(
                    stage, seconds, outcome, job.backend, job.content_type, tries.count
                )
                self._telemetry.stage_finished(timing)

    async def _patiently(
        self,
        step: str,
        attempt: Callable[[], T | Awaitable[T]],
        dependency: type[DependencyUnavailable],
    ) -> T:
        """`attempt()` (awaited if it returns an awaitable), tried again while `dependency`
        is unavailable: waits of `outage_backoff_seconds` doubling up to
        `outage_max_backoff_seconds`, each plus a random jitter of up to the first, for up to
        `outage_patience_seconds`; then the last DependencyUnavailable is raised. `step`
        names the call in the outage log ("storing the image of segment 2")."""
        settings = self._settings
        outage = self._outages[dependency]
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_delay(settings.outage_patience_seconds),
            # Jitter added after the cap, so waiters spread out even at the longest wait.
            wait=tenacity.wait_exponential(
                multiplier=settings.outage_backoff_seconds,
                max=settings.outage_max_backoff_seconds,
            )
            + tenacity.wait_random(0, settings.outage_backoff_seconds),
            retry=tenacity.retry_if_exception_type(DependencyUnavailable),
            reraise=True,
        )

        async def once() -> T:
            try:
                result = attempt()
                if inspect.isawaitable(result):
                    result = await result
            except DependencyUnavailable as error:
                outage.failed(f"{step}: {error.message}")
                raise
            except BaseException:  # it answered (LeaseLost, say): it is back
                outage.succeeded()
                raise
            outage.succeeded()
            return result  # type: ignore[return-value]

        return await retrying(once)


class _Runner:
    """Runs blocking calls on the job's thread pool, so backend waits overlap."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool

    async def __call__(self, function: Callable[..., T], *args: Any) -> T:
        # In the caller's context, so the call's spans are children of the caller's.
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, context.run, function, *args)
