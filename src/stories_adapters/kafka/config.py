"""Where the brokers are, what the topics are called, and how clients are tuned."""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from stories_adapters.settings import KafkaSettings

METADATA_REFRESH_MS = 10_000
QUIET_LOG_LEVEL = 2
"""librdkafka's syslog level for clients whose failures reach us as exceptions (producers,
admin): its per-reconnect error lines (level 3) would otherwise flood stderr while a
broker is down; the outage is logged once each way by the code that sees the exception."""


class KafkaConfig(KafkaSettings):
    """The Kafka settings (fields, defaults and bounds are `KafkaSettings`'), and the
    client configurations they make. Built from the values it is given: the settings
    already read the environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    def partitions(self) -> dict[str, int]:
        """Every topic the service uses, with the partitions it is created with."""
        return {
            self.jobs_topic: self.jobs_partitions,
            self.events_topic: self.events_partitions,
            self.dlq_topic: self.dlq_partitions,
        }

    def producer(self) -> dict[str, Any]:
        """Idempotent and acks=all: a retried send is never written twice, and an
        acknowledged message survives the loss of a broker. A topic is never created by
        the broker as a side effect of producing to it (with the broker's default partition
        count): `KafkaProducer` creates missing topics itself."""
        return {
            "bootstrap.servers": self.brokers,
            "allow.auto.create.topics": False,
            "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
            "log_level": QUIET_LOG_LEVEL,
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
            # A subscribed topic that a broker lost and the dispatcher made again is seen
            # within this long, not librdkafka's default five minutes.
            "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
            # A broker closing an idle connection is routine, not a failure to report.
            "log.connection.close": False,
        }
