"""Create the service's topics when they are missing, at start-up of any process."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from stories_adapters.kafka.config import QUIET_LOG_LEVEL, KafkaConfig

log = logging.getLogger(__name__)


def ensure_topics(config: KafkaConfig, timeout: float = 30.0) -> list[str]:
    """Create whichever topics are missing and return their names. Idempotent, and safe
    when several processes start at once: a topic someone else just made counts as made.
    An existing topic is left as it is, even with another partition count. KafkaException
    when the broker does not answer within `timeout` seconds."""
    admin = AdminClient({"bootstrap.servers": config.brokers, "log_level": QUIET_LOG_LEVEL})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(name, partitions, config.replication_factor)
        for name, partitions in config.partitions().items()
        if name not in existing
    ]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    log.info("created topics %s", created)
    return created
