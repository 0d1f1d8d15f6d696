"""The dead-letter topic: where a message the worker cannot use goes, so the partition
moves on and a person can look at it later (and replay it once the cause is fixed)."""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import Message

from stories_adapters.kafka.codec import Record
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.producer import KafkaProducer

ERROR_CLASS_HEADER = "dlq-error-class"
ERROR_MESSAGE_HEADER = "dlq-error-message"
STAGE_HEADER = "dlq-stage"
"""`decode` (not a JobMessage) or `process` (the worker failed outside the job's own
error handling: a bug; an unavailable dependency never sends a message here)."""
ORIGINAL_TOPIC_HEADER = "dlq-original-topic"
ORIGINAL_PARTITION_HEADER = "dlq-original-partition"
ORIGINAL_OFFSET_HEADER = "dlq-original-offset"
FAILED_AT_HEADER = "dlq-failed-at"
WORKER_HEADER = "dlq-worker"


class DeadLetters:
    def __init__(self, producer: KafkaProducer, config: KafkaConfig, worker_id: str) -> None:
        self._producer = producer
        self._topic = config.dlq_topic
        self._worker_id = worker_id

    def send(self, message: Message, error: BaseException, stage: str) -> None:
        """The original key, value and headers, plus why and where it failed; returns once
        the DLQ has it (raises DeliveryFailed otherwise, and the offset is not stored)."""
        why = {
            ERROR_CLASS_HEADER: type(error).__name__,
            ERROR_MESSAGE_HEADER: str(error)[:1000],
            STAGE_HEADER: stage,
            ORIGINAL_TOPIC_HEADER: message.topic() or "",
            ORIGINAL_PARTITION_HEADER: str(message.partition()),
            ORIGINAL_OFFSET_HEADER: str(message.offset()),
            FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
            WORKER_HEADER: self._worker_id,
        }
        headers = [*(message.headers() or []), *((k, v.encode()) for k, v in why.items())]
        self._producer.send_all([(self._topic, Record(message.key(), message.value(), headers))])
