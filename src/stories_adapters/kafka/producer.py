"""Producing: the outbox relay's MessagePublisher and the sweeper's JobQueue.

Both send through one idempotent producer and wait for every acknowledgement: the outbox
marks rows sent only after `publish` returns, so a failed delivery must raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.kafka.codec import Record, event_record, job_record
from stories_adapters.kafka.config import KafkaConfig
from stories_core.errors import BrokerUnavailable
from stories_core.model import OutboxMessage, Topic
from stories_core.telemetry import W3C, job_context

tracer = trace.get_tracer("stories.dispatcher")

log = logging.getLogger(__name__)
TOPICS_TIMEOUT_SECONDS = 10.0
"""How long a producer recovering from a failure waits for the broker to list its topics."""


class DeliveryFailed(BrokerUnavailable):
    """Kafka did not acknowledge every message of a batch."""


class KafkaProducer:
    """One producer per process (librdkafka batches and retries for every caller).

    After a batch failed, the next one first makes sure the topics exist (a broker that
    lost its state has lost them; they are made again with the product's partition
    counts, not the broker's default) and starts a new producer: an idempotent producer
    whose broker forgot its producer id can keep timing out for good. So a relay that
    keeps trying recovers by itself once the broker is back.
    """

    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        self._producer = Producer(config.producer())
        self._lock = threading.Lock()
        self._failed = False

    def send_all(self, records: Iterable[tuple[str, Record]]) -> None:
        """Send (topic, record) pairs and wait for all of them; DeliveryFailed if any failed
        or was still unacknowledged when the delivery timeout ran out."""
        failures: list[str] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failures.append(f"{message.topic()}: {error.str()}")

        producer = self._recovered()
        sent = 0
        try:
            for topic, record in records:
                producer.produce(
                    topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                    on_delivery=on_delivery,
                )
                sent += 1
        except (KafkaException, BufferError) as error:
            self._failed = True
            log.debug("producing failed: %s", error)
            raise DeliveryFailed("Kafka refused a message") from None
        # The delivery timeout bounds every message's fate, so this wait is bounded too.
        unacknowledged = producer.flush(self._config.delivery_timeout_ms / 1000 + 5)
        if failures or unacknowledged:
            self._failed = True
            log.debug("delivery failed: %s", "; ".join(failures[:3]))
            raise DeliveryFailed(
                f"Kafka did not acknowledge {len(failures) + unacknowledged} of {sent} messages"
            )

    def _recovered(self) -> Producer:
        """The producer to send with: a new one, with the topics made again, after a
        failure (several threads may send: one rebuilds, the others wait for it)."""
        with self._lock:
            if self._failed:
                try:
                    ensure_topics(self._config, TOPICS_TIMEOUT_SECONDS)
                except KafkaException as error:
                    log.debug("listing topics failed: %s", error)
                    raise DeliveryFailed("Kafka did not list its topics") from None
                old, self._producer = self._producer, Producer(self._config.producer())
                old.purge()
                old.flush(0)
                self._failed = False
                log.info("producer rebuilt after a failed delivery")
            return self._producer


class KafkaPublisher:
    """The outbox relay's MessagePublisher: job doorbells to the jobs topic, events to the
    events topic, each keyed by job id so a job's messages stay in order."""

    def __init__(self, producer: KafkaProducer, config: KafkaConfig) -> None:
        self._producer = producer
        self._topics = {Topic.JOBS: config.jobs_topic, Topic.EVENTS: config.events_topic}

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Each doorbell is a producer span of its job's trace (child of the span that
        queued the job), whose `traceparent` the record carries to the worker."""
        records, spans = [], []
        try:
            for message in messages:
                topic = self._topics[message.topic]
                if message.topic is Topic.JOBS:
                    span = _publish_span(topic, message.payload)
                    spans.append(span)
                    records.append((topic, _record(message, _traceparent_of(span))))
                else:
                    records.append((topic, _record(message)))
            self._producer.send_all(records)
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(StatusCode.ERROR, type(error).__name__)
            raise
        finally:
            for span in spans:
                span.end()


class KafkaJobQueue:
    """The sweeper's JobQueue: rings a job's doorbell again on the jobs topic, unkeyed."""

    def __init__(self, producer: KafkaProducer, config: KafkaConfig) -> None:
        self._producer = producer
        self._topic = config.jobs_topic

    def publish(self, job_id: str, trace_id: str) -> None:
        # Unkeyed, so the partitioner spreads the rings instead of sending a dead worker's
        # jobs back to the partitions they were stuck on. Order does not matter: a doorbell
        # only names its job, and a repeated one is harmless, as the lease fences claims.
        record = replace(job_record(job_id, trace_id, datetime.now(UTC)), key=None)
        self._producer.send_all([(self._topic, record)])


def _record(message: OutboxMessage, traceparent: str = "") -> Record:
    if message.topic is Topic.JOBS:
        payload = message.payload
        return job_record(payload["job_id"], payload["trace_id"], message.created_at, traceparent)
    return event_record(message.payload)


def _publish_span(topic: str, doorbell: dict[str, str]) -> Span:
    """OpenTelemetry's messaging conventions: `<destination> publish`, a PRODUCER span."""
    parent = job_context(doorbell["trace_id"], doorbell.get("traceparent", ""))
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "publish",
        "messaging.destination.name": topic,
        "messaging.kafka.message.key": doorbell["job_id"],
    }
    return tracer.start_span(
        f"{topic} publish", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
    )


def _traceparent_of(span: Span) -> str:
    carrier: dict[str, str] = {}
    W3C.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent", "")
