"""Outages of the services we depend on: told once when they begin and once when they end.

A database that is down for 30 seconds makes every worker thread, heartbeat and dispatcher
pass fail, again and again. An operator needs two lines, not hundreds: "<dependency>
unreachable: <what failed>" when the first call fails, and "<dependency> back after 31.2 s
(57 failed calls)" when one succeeds again. The failures between are counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DATABASE = "database"
OBJECT_STORE = "object store"
BROKER = "Kafka broker"


class OutageLog:
    """The state of one dependency as the calls of one process see it. Thread-safe: every
    thread reports its own calls' outcomes to the same instance."""

    def __init__(
        self,
        dependency: str,
        logger: logging.Logger = log,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dependency = dependency
        self._log = logger
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, what: str) -> None:
        """A call failed because the dependency was unreachable; `what` says which call and
        how, in our words (no address, key or library text)."""
        with self._lock:
            self._failures += 1
            if self._down_since is not None:
                return
            self._down_since = self._monotonic()
        self._log.error("%s unreachable: %s", self.dependency, what)

    def succeeded(self) -> None:
        """A call went through; ends the outage if there was one."""
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = self._monotonic() - self._down_since
            failures, self._down_since, self._failures = self._failures, None, 0
        self._log.warning(
            "%s back after %.1f s (%d failed calls)", self.dependency, seconds, failures
        )
