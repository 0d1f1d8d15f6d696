"""Relay the outbox: messages recorded with their change, published after it (at least once)."""

from __future__ import annotations

from stories_core.model import Topic
from stories_core.ports import Clock, MessagePublisher, UnitOfWorkFactory
from stories_core.services.webhooks import delivery_for


class RelayOutbox:
    """Publish a batch of pending messages, then mark them sent.

    A crash between the two publishes them again: consumers are idempotent by design.
    Webhook messages are not published: they become webhook deliveries, recorded in the
    transaction that marks them sent.
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
            to_publish = [m for m in messages if m.topic is not Topic.WEBHOOKS]
            if to_publish:
                self._publisher.publish(to_publish)
            for message in messages:
                if message.topic is Topic.WEBHOOKS:
                    uow.webhooks.add(delivery_for(message))
            uow.outbox.mark_sent([m.id for m in messages if m.id is not None], self._clock.now())
            uow.commit()
        return len(messages)
