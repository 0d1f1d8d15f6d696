"""The embedded service's background work, as threads beside the API: the dispatcher (the
same one `stories dispatcher` runs: outbox relay, sweeper, and webhook delivery when a
signing secret is set) and workers fed by the in-process queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from stories_adapters.dispatcher import Dispatcher
from stories_adapters.runtime import InProcessQueue
from stories_core.errors import DependencyUnavailable
from stories_core.model import OutboxMessage, Topic

log = logging.getLogger(__name__)


class InProcessPublisher:
    """The MessagePublisher of the embedded service: job doorbells go to the in-process
    queue; events were already delivered in process when they happened."""

    def __init__(self, queue: InProcessQueue) -> None:
        self._queue = queue

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            if message.topic is Topic.JOBS:
                self._queue.publish(message.payload["job_id"], message.payload["trace_id"])


class EmbeddedRuntime:
    def __init__(
        self,
        queue: InProcessQueue,
        process_job: Callable[[str], object],
        dispatcher: Dispatcher,
        *,
        workers: int,
        poll_seconds: float,
    ) -> None:
        self._queue = queue
        self._process_job = process_job
        self._dispatcher = dispatcher
        self._workers = workers
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """The dispatcher sweeps first: jobs left queued or running by a previous run."""
        self._spawn("stories-dispatcher", lambda: self._dispatcher.run(self._stopping))
        for n in range(self._workers):
            self._spawn(f"stories-worker-{n}", self._work_loop)

    def stop(self, timeout: float) -> None:
        """Stop taking work; in-flight jobs finish (or their leases expire and a later
        run of the service picks them up)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            item = self._queue.take(timeout=self._poll * 5)
            if item is None:
                continue
            job_id, trace_id = item
            try:
                self._process_job(job_id)
            except DependencyUnavailable as error:  # the outage is logged where it was seen
                log.warning("job %s: left for later: %s", job_id, error.message)
            except Exception:
                log.exception("job %s failed in the worker", job_id, extra={"trace_id": trace_id})
