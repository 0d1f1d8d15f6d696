"""Small adapters for the core's clock, queue and event ports."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from datetime import UTC, datetime

from stories_core.events import JobEvent

log = logging.getLogger("stories.events")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class InProcessQueue:
    """The embedded JobQueue: a thread-safe FIFO of job ids for in-process workers."""

    def __init__(self) -> None:
        self._items: queue.Queue[tuple[str, str]] = queue.Queue()

    def publish(self, job_id: str, trace_id: str) -> None:
        self._items.put((job_id, trace_id))

    def take(self, timeout: float | None = None) -> tuple[str, str] | None:
        try:
            return self._items.get(timeout=timeout)
        except queue.Empty:
            return None


class EventBus:
    """Fans the job events this process records out to subscribers (progress bars, the
    event feed, metrics) and the log."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[JobEvent], None]] = []

    def subscribe(self, subscriber: Callable[[JobEvent], None]) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: JobEvent) -> None:
        log.info(
            "%s job=%s state=%s progress=%.2f",
            event.kind.value,
            event.job_id,
            event.state.value,
            event.progress,
            extra={"trace_id": event.trace_id},
        )
        for subscriber in list(self._subscribers):
            subscriber(event)
