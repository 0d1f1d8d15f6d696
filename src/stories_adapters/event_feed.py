"""The EventFeed port over the outbox: one reader per process for every watcher.

One thread reads the messages recorded since it last looked (every `poll_seconds`, and at
once when this process recorded an event itself) and hands each job event to the
subscriptions of its job. However many streams watch, the database sees one query per
poll from each API process, not one per watcher.

Positions are the outbox's ids, given out when a row is inserted; a transaction can commit
after another that took a higher id. So the reader remembers the positions it skipped and
looks for each again at every read, giving up on one after `gap_seconds` (an id whose
transaction rolled back never appears). One job's events always commit in the order of
their positions (every write of a job holds its row), so a watcher never gets them out of
order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

from stories_core.errors import DependencyUnavailable
from stories_core.events import JobEvent
from stories_core.outages import DATABASE, OutageLog
from stories_core.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)
BATCH = 1000
MAX_LATE_CHECKS = 100


class _Subscription:
    def __init__(self) -> None:
        self._events: queue.SimpleQueue[tuple[int, JobEvent]] = queue.SimpleQueue()

    def put(self, item: tuple[int, JobEvent]) -> None:
        self._events.put(item)

    def next(self, timeout: float) -> tuple[int, JobEvent] | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None


class _AsyncSubscription:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: asyncio.Queue[tuple[int, JobEvent]] = asyncio.Queue()

    def put(self, item: tuple[int, JobEvent]) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, item)

    async def next(self) -> tuple[int, JobEvent]:
        return await self._events.get()


_S = TypeVar("_S", _Subscription, _AsyncSubscription)


class OutboxEventFeed:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        poll_seconds: float = 0.2,
        gap_seconds: float = 10.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._poll_seconds = poll_seconds
        self._gap_seconds = gap_seconds
        self._subscriptions: dict[str, set[_Subscription | _AsyncSubscription]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._started = False
        self._outage = OutageLog(DATABASE)

    def wake(self, event: JobEvent | None = None) -> None:
        """Read now (an EventBus subscriber: this process just recorded `event`)."""
        self._wake.set()

    def subscribe(self, job_id: str) -> contextlib.AbstractContextManager[_Subscription]:
        """For a thread: `next(timeout)` blocks it."""
        return self._subscribed(job_id, _Subscription())

    def subscribe_async(
        self, job_id: str, loop: asyncio.AbstractEventLoop
    ) -> contextlib.AbstractContextManager[_AsyncSubscription]:
        """For a coroutine on `loop`: `await next()`; a stream costs no thread."""
        return self._subscribed(job_id, _AsyncSubscription(loop))

    @contextlib.contextmanager
    def _subscribed(self, job_id: str, subscription: _S) -> Iterator[_S]:
        with self._lock:
            self._subscriptions.setdefault(job_id, set()).add(subscription)
            if not self._started:
                self._started = True
                threading.Thread(target=self._read, name="event-feed", daemon=True).start()
        try:
            yield subscription
        finally:
            with self._lock:
                watchers = self._subscriptions[job_id]
                watchers.discard(subscription)
                if not watchers:
                    del self._subscriptions[job_id]

    def _read(self) -> None:
        high: int | None = None  # the highest position read
        missing: dict[int, float] = {}  # positions below it not read yet: when first noticed
        while True:
            try:
                with self._uow_factory() as uow:
                    if high is None:
                        high = uow.outbox.latest_position()
                    recorded = uow.outbox.recorded_after(high, BATCH)
                    late = [
                        row
                        for at in sorted(missing)[:MAX_LATE_CHECKS]
                        for row in uow.outbox.recorded_after(at - 1, 1)
                        if row[0] == at
                    ]
                self._outage.succeeded()
            except DependencyUnavailable as error:
                self._outage.failed(f"reading job events: {error.message}")
                recorded = late = []
            except Exception:  # a bug: say so, keep the feed alive
                log.exception("the event feed failed to read")
                recorded = late = []
            now = time.monotonic()
            for at, event in late:
                del missing[at]
                if event is not None:
                    self._deliver(at, event)
            for at, event in recorded:
                assert high is not None
                for gap in range(high + 1, at):
                    missing[gap] = now
                high = at
                if event is not None:
                    self._deliver(at, event)
            for at in [at for at, noticed in missing.items() if now - noticed >= self._gap_seconds]:
                del missing[at]  # rolled back, or a sequence that skipped it
            if len(recorded) < BATCH:
                self._wake.wait(self._poll_seconds)
                self._wake.clear()

    def _deliver(self, position: int, event: JobEvent) -> None:
        with self._lock:
            watchers = list(self._subscriptions.get(event.job_id, ()))
        for subscription in watchers:
            subscription.put((position, event))
