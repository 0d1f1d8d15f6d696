"""Which offset a partition may store while its jobs finish out of order.

A message's offset is stored once its job's outcome is recorded, and a stored offset N
means "every message before N is done". Jobs run side by side, so a later message can
finish first: the position stored is then the lowest offset still in flight (started and
not finished) on that partition, or one past the highest finished when none is. A crash
re-reads at most the messages in flight; repeating one is harmless (the lease).

Pure bookkeeping on (topic, partition, offset): no broker, no client objects.
"""

from __future__ import annotations

from collections.abc import Iterable

Partition = tuple[str, int]
"""(topic, partition number)."""


class OffsetTracker:
    """Offsets safe to commit while jobs finish out of order: per partition, the lowest
    offset still in flight (running or waiting), or one past the highest finished."""

    def __init__(self) -> None:
        self._in_flight: dict[Partition, set[int]] = {}
        self._next: dict[Partition, int] = {}

    def started(self, topic: str, partition: int, offset: int) -> None:
        """The message at `offset` is in flight until `finished` is called for it."""
        self._in_flight.setdefault((topic, partition), set()).add(offset)

    def finished(self, topic: str, partition: int, offset: int) -> int | None:
        """The position to store now; None if the partition was forgotten (revoked)
        meanwhile, or never started here."""
        key = (topic, partition)
        pending = self._in_flight.get(key)
        if pending is None:
            return None
        pending.discard(offset)
        self._next[key] = max(self._next.get(key, 0), offset + 1)
        return min(pending) if pending else self._next[key]

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop what is known of partitions handed over: their next owner starts fresh,
        and a job of theirs that finishes later stores nothing."""
        for key in partitions:
            self._in_flight.pop(key, None)
            self._next.pop(key, None)
