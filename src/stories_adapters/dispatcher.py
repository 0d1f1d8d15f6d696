"""The dispatcher: relays the outbox, delivers webhooks, and sweeps. `stories dispatcher`
runs it against Kafka; the embedded service runs the same one in a thread.

Several dispatchers may run: outbox rows and webhook deliveries are taken with
SKIP LOCKED (on PostgreSQL), and sweeping twice only rings a doorbell twice.

A pass that fails because the database or the broker is unavailable is tried again after
a pause, without end: the outage is logged once when it begins and once when it ends
(`stories_core.outages`), the failed passes counted, not printed. Webhook delivery runs
in threads of its own and never waits for the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from stories_core.errors import BrokerUnavailable, DatabaseUnavailable, DependencyUnavailable
from stories_core.outages import BROKER, DATABASE, OutageLog

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
        self._outages = {
            DatabaseUnavailable: OutageLog(DATABASE, log),
            BrokerUnavailable: OutageLog(BROKER, log),
        }

    def unavailable(self) -> list[str]:
        """The dependencies whose outage this dispatcher is waiting out now."""
        return [outage.dependency for outage in self._outages.values() if outage.down]

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; each loop finishes the pass it is in before returning."""
        deliver = self._deliver_webhooks
        threads = [
            threading.Thread(
                target=self._repeat,
                args=(stop, "delivering webhooks", deliver),
                name=f"webhooks-{n}",
            )
            for n in range(self._webhook_threads if deliver is not None else 0)
        ]
        for thread in threads:
            thread.start()
        self._repeat(stop, "relaying the outbox", self._relay_and_sweep)
        for thread in threads:
            thread.join()

    def _relay_and_sweep(self) -> int:
        """Sweep first on start-up: jobs left waiting while no dispatcher ran. A pass that
        published something tells the broker's outage log it answers."""
        sent = 0
        if time.monotonic() >= self._next_sweep:
            sent = self._sweep()
            self._next_sweep = time.monotonic() + self._sweep_interval
            if sent:
                log.info("swept %d claimable jobs", sent)
        relayed = self._relay()
        if sent or relayed:
            self._outages[BrokerUnavailable].succeeded()
        return relayed

    def _repeat(self, stop: threading.Event, doing: str, step: Callable[[], int]) -> None:
        """Call `step` until stopped; straight again while it finds work, else after a
        pause; after a failure, after `ERROR_PAUSE_SECONDS`."""
        database = self._outages[DatabaseUnavailable]
        while not stop.is_set():
            try:
                busy = step() > 0
            except DependencyUnavailable as error:
                kinds = self._outages.items()
                outage = next((o for kind, o in kinds if isinstance(error, kind)), database)
                outage.failed(f"{doing}: {error.message}")
                stop.wait(ERROR_PAUSE_SECONDS)
                continue
            except Exception:
                log.exception("%s failed; trying again", doing)
                stop.wait(ERROR_PAUSE_SECONDS)
                continue
            database.succeeded()
            if not busy:
                stop.wait(self._poll_seconds)
