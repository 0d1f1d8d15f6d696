"""librdkafka's own log, through Python logging, with its broker failures told once.

librdkafka writes a line to stderr at every reconnect while a broker is down (several a
second, for as long as the outage lasts). Given as a consumer's `logger`, a `ClientLog`
sends those connection failures to the broker's outage log (one line when it begins, one
when the consumer reports a success) and everything else to this module's logger. Only
for a client that is polled all along (librdkafka hands its log lines over in `poll`): a
consumer. Producers and admin clients are quiet instead (`config.QUIET_LOG_LEVEL`).
"""

from __future__ import annotations

import logging

from stories_core.outages import BROKER, OutageLog

log = logging.getLogger(__name__)

_CONNECTION_FACILITIES = frozenset({"FAIL"})
"""librdkafka's log facility for a failed or lost broker connection."""


class ClientLog:
    """The `logger` of a librdkafka client's configuration (librdkafka calls `log` from
    the thread that polls the client). `outage` is the broker's outage log of the
    component that owns the client, which reports its successes there too."""

    def __init__(self, outage: OutageLog | None = None) -> None:
        self.outage = outage or OutageLog(BROKER, log)

    def log(self, level: int, message_format: str, *args: object) -> None:
        facility = args[0] if args else None
        if facility in _CONNECTION_FACILITIES:
            self.outage.failed(f"connecting: {args[-1]}")
        else:
            log.log(level, message_format, *args)
