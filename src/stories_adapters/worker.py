"""`stories worker`: a member of the workers' consumer group, running jobs until stopped.

SIGTERM or SIGINT stops polling; jobs in flight get `STORIES_WORKER_SHUTDOWN_GRACE_SECONDS`
to finish and are released (queued again for another worker) if they do not; offsets are
committed and the consumer leaves the group.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.signals import stop_on_signals

if TYPE_CHECKING:
    from stories_adapters.containers import Application

log = logging.getLogger(__name__)


def run_worker(application: Application) -> None:
    stop = stop_on_signals()
    ensure_topics(application.messaging.kafka_config())
    application.storage.blobs()  # an S3 store makes its bucket now, not mid-job
    consumer = application.workers.job_consumer()
    log.info("worker started")
    consumer.run(stop)
