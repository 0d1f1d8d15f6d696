"""Producing to Kafka: topics, the outbox relay's publisher and the sweeper's queue."""

import pytest
from confluent_kafka.admin import AdminClient

from stories.v1 import common_pb2, events_pb2, queue_pb2
from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.producer import (
    DeliveryFailed,
    KafkaJobQueue,
    KafkaProducer,
    KafkaPublisher,
)
from stories_core.services.dispatch import RelayOutbox
from stories_core.services.sweep import Sweep
from tests.integration.conftest import KafkaWorld, read_topic
from tests.services import KafkaBroker, free_port


def test_missing_topics_are_created_once_with_their_partitions(kafka_broker: KafkaBroker) -> None:
    config = kafka_broker.fresh_config(jobs_partitions=4, events_partitions=3)
    assert sorted(ensure_topics(config)) == sorted(config.partitions())
    assert ensure_topics(config) == [], "idempotent"
    topics = AdminClient({"bootstrap.servers": config.brokers}).list_topics(timeout=10).topics
    assert {name: len(topics[name].partitions) for name in config.partitions()} == {
        config.jobs_topic: 4,
        config.events_topic: 3,
        config.dlq_topic: 1,
    }


def test_the_relay_publishes_protobuf_records_keyed_by_job(world: KafkaWorld) -> None:
    job = world.submit(tenant="acme")
    assert world.relay() == 2
    assert world.relay() == 0, "marked sent"

    [doorbell] = read_topic(world.kafka, world.kafka.jobs_topic, 1)
    message = queue_pb2.JobMessage.FromString(doorbell.value())
    assert (message.job_id, message.trace_id) == (job.id, job.trace_id)
    assert message.enqueue_time.seconds > 0
    assert doorbell.key() == job.id.encode()
    headers = dict(doorbell.headers())
    assert headers["trace-id"] == job.trace_id.encode()
    assert headers["content-type"].endswith(b"messageType=stories.v1.JobMessage")

    [queued] = read_topic(world.kafka, world.kafka.events_topic, 1)
    event = events_pb2.JobEvent.FromString(queued.value())
    assert event.kind == events_pb2.JOB_EVENT_KIND_QUEUED
    assert event.state == common_pb2.JOB_STATE_QUEUED
    assert (event.job_id, event.tenant, event.trace_id) == (job.id, "acme", job.trace_id)
    assert dict(queued.headers())["content-type"].endswith(b"messageType=stories.v1.JobEvent")


def test_a_failed_delivery_raises_and_leaves_the_rows_unsent(world: KafkaWorld) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # no broker listens here
    config = world.kafka.model_copy(update={"brokers": nobody, "delivery_timeout_ms": 1000})
    publisher = KafkaPublisher(KafkaProducer(config), config)
    world.submit()
    with pytest.raises(DeliveryFailed, match="Kafka did not acknowledge 2 of 2 messages"):
        RelayOutbox(world.uow_factory, publisher, world.clock)()
    with world.uow_factory() as uow:
        assert len(uow.outbox.pending(10)) == 2
    assert world.relay() == 2, "a working broker takes them later"


def test_the_sweeper_rings_again_for_a_waiting_job(world: KafkaWorld) -> None:
    job = world.submit()
    queue = KafkaJobQueue(world.producer, world.kafka)
    assert Sweep(world.uow_factory, world.clock, queue, queued_for_seconds=None)() == 1
    [doorbell] = read_topic(world.kafka, world.kafka.jobs_topic, 1)
    assert queue_pb2.JobMessage.FromString(doorbell.value()).job_id == job.id


def test_the_producer_is_idempotent_and_offsets_are_stored_by_hand(kafka: KafkaConfig) -> None:
    assert kafka.producer()["enable.idempotence"] is True
    assert kafka.producer()["acks"] == "all"
    consumer = kafka.consumer("worker-1")
    assert consumer["enable.auto.offset.store"] is False
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
