"""Relay the outbox: messages recorded with their change, published after it (at least once)."""

from __future__ import annotations

from stories_core.ports import Clock, MessagePublisher, UnitOfWorkFactory


class RelayOutbox:
    """Publish a batch of pending messages, then mark them sent.

    A crash between the two publishes them again: consumers are idempotent by design.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        publisher: MessagePublisher,
        clock: Clock,
        limit: int = 200,
    ) -> None:
        self._uow_factory = uow_factory
        self._publisher = publisher
        self._clock = clock
        self._limit = limit

    def __call__(self) -> int:
        """How many messages were relayed (0: the outbox is empty)."""
        with self._uow_factory() as uow:
            messages = uow.outbox.pending(self._limit)
            if not messages:
                return 0
            self._publisher.publish(messages)
            uow.outbox.mark_sent([m.id for m in messages if m.id is not None], self._clock.now())
            uow.commit()
        return len(messages)
