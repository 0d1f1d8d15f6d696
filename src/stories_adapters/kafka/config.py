"""Where the brokers are, what the topics are called, and how clients are tuned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KafkaConfig:
    brokers: str
    jobs_topic: str = "stories.jobs.v1"
    events_topic: str = "stories.events.v1"
    dlq_topic: str = "stories.jobs.dlq.v1"
    jobs_partitions: int = 12
    """Upper bound on useful worker processes: each partition goes to one group member."""
    events_partitions: int = 12
    dlq_partitions: int = 1
    replication_factor: int = -1
    """-1: the broker's default (3 on a production cluster)."""
    group_id: str = "stories-workers"
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3_000
    fetch_wait_max_ms: int = 500
    """How long the broker may hold a fetch that has nothing to return. Kafka answers as
    soon as a message arrives; a broker that always waits this long (Tansu) adds it to
    every doorbell's latency, so tests and benchmarks set it low."""
    delivery_timeout_ms: int = 30_000
    """How long the producer keeps retrying a message before its delivery counts as failed."""

    def partitions(self) -> dict[str, int]:
        """Every topic the service uses, with the partitions it is created with."""
        return {
            self.jobs_topic: self.jobs_partitions,
            self.events_topic: self.events_partitions,
            self.dlq_topic: self.dlq_partitions,
        }

    def producer(self) -> dict[str, Any]:
        """Idempotent and acks=all: a retried send is never written twice, and an
        acknowledged message survives the loss of a broker."""
        return {
            "bootstrap.servers": self.brokers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "zstd",
            "message.timeout.ms": self.delivery_timeout_ms,
        }

    def consumer(self, client_id: str) -> dict[str, Any]:
        """Offsets are stored by hand once a job's outcome is in the database, and committed
        in the background (and on revoke and close); cooperative-sticky keeps a rebalance
        from stopping every member."""
        return {
            "bootstrap.servers": self.brokers,
            "group.id": self.group_id,
            "client.id": client_id,
            "enable.auto.offset.store": False,
            "enable.auto.commit": True,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": self.heartbeat_interval_ms,
            "fetch.wait.max.ms": self.fetch_wait_max_ms,
        }
