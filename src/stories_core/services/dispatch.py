"""Relay the outbox: messages recorded with their change, published after it (at least once)."""

from __future__ import annotations

from stories_core.ports import Clock, MessagePublisher, UnitOfWorkFactory


def relay_outbox(
    uow_factory: UnitOfWorkFactory, publisher: MessagePublisher, clock: Clock, limit: int = 200
) -> int:
    """Publish a batch of pending messages, then mark them sent; returns how many.

    A crash between the two publishes them again: consumers are idempotent by design.
    """
    with uow_factory() as uow:
        messages = uow.outbox.pending(limit)
        if not messages:
            return 0
        publisher.publish(messages)
        uow.outbox.mark_sent([m.id for m in messages if m.id is not None], clock.now())
        uow.commit()
    return len(messages)
