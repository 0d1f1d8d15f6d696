"""Graceful stop for long-running processes: SIGTERM (Kubernetes) and SIGINT (Ctrl-C)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT; a second one kills the process at once,
    for when a graceful stop takes too long for the person waiting."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping gracefully", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
