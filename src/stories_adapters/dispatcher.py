"""The dispatcher: relays the outbox, delivers webhooks, and sweeps. `stories dispatcher`
runs it against Kafka; the embedded service runs the same one in a thread.

Several dispatchers may run: outbox rows and webhook deliveries are taken with
SKIP LOCKED (on PostgreSQL), and sweeping twice only rings a doorbell twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
ERROR_PAUSE_SECONDS = 1.0
"""After a failed pass (database or broker unreachable), before trying again."""


class Dispatcher:
    """Webhooks get threads of their own, so a slow receiver never holds back job doorbells.
    `deliver_webhooks` is None where nothing could sign them (no secret): none are run."""

    def __init__(
        self,
        relay: Callable[[], int],
        sweep: Callable[[], int],
        deliver_webhooks: Callable[[], int] | None,
        *,
        poll_seconds: float,
        sweep_interval_seconds: float,
        webhook_threads: int,
    ) -> None:
        self._relay = relay
        self._sweep = sweep
        self._deliver_webhooks = deliver_webhooks
        self._poll_seconds = poll_seconds
        self._sweep_interval = sweep_interval_seconds
        self._webhook_threads = webhook_threads
        self._next_sweep = 0.0

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; each loop finishes the pass it is in before returning."""
        deliver = self._deliver_webhooks
        threads = [
            threading.Thread(
                target=_repeat,
                args=(stop, "webhook delivery", deliver, self._poll_seconds),
                name=f"webhooks-{n}",
            )
            for n in range(self._webhook_threads if deliver is not None else 0)
        ]
        for thread in threads:
            thread.start()
        _repeat(stop, "outbox relay", self._relay_and_sweep, self._poll_seconds)
        for thread in threads:
            thread.join()

    def _relay_and_sweep(self) -> int:
        """Sweep first on start-up: jobs left waiting while no dispatcher ran."""
        if time.monotonic() >= self._next_sweep:
            swept = self._sweep()
            self._next_sweep = time.monotonic() + self._sweep_interval
            if swept:
                log.info("swept %d claimable jobs", swept)
        return self._relay()


def _repeat(stop: threading.Event, name: str, step: Callable[[], int], idle_seconds: float) -> None:
    """Call `step` until stopped; straight again while it finds work, else after a pause."""
    while not stop.is_set():
        try:
            busy = step() > 0
        except Exception:
            log.exception("%s failed; trying again", name)
            stop.wait(ERROR_PAUSE_SECONDS)
            continue
        if not busy:
            stop.wait(idle_seconds)
