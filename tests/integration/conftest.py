"""The core wired to real PostgreSQL and a real Kafka-protocol broker (Tansu), in process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from confluent_kafka import Consumer, Message
from sqlalchemy import Engine

from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.consumer import JobConsumer
from stories_adapters.kafka.dlq import DeadLetters
from stories_adapters.kafka.producer import KafkaProducer, KafkaPublisher
from stories_adapters.runtime import SystemClock
from stories_adapters.sql.engine import make_engine, migrate
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_core.model import Job
from stories_core.services.dispatch import RelayOutbox
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.steal import FindStealable
from stories_core.services.submit import JobRequest, Limits, SubmitJob
from tests.fakes import (
    FakeCatalog,
    FixedLanguage,
    InMemoryBlobStore,
    ScriptedBackend,
)
from tests.services import KafkaBroker, PostgresServer

TEXT = "First part.\n\nSecond part.\n\nThird part."


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def read_topic(config: KafkaConfig, topic: str, count: int, timeout: float = 30) -> list[Message]:
    """The first `count` records of a topic, read by a group of its own."""
    consumer = Consumer(
        {
            **config.consumer("reader"),
            "group.id": f"{config.group_id}-reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                records.append(message)
    finally:
        consumer.close()
    return records


@pytest.fixture
def pg_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL database for this test."""
    engine = make_engine(postgres_server.create_database("stories_kafka"), pool_size=20)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def kafka(kafka_broker: KafkaBroker) -> KafkaConfig:
    """Fresh topics and group for this test, created up front."""
    config = kafka_broker.fresh_config()
    ensure_topics(config)
    return config


class KafkaWorld:
    """Submitting, relaying and consuming jobs over PostgreSQL and Kafka, in process."""

    def __init__(self, engine: Engine, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self.uow_factory = lambda: SqlUnitOfWork(engine)
        self.clock = SystemClock()
        self.blobs = InMemoryBlobStore()
        self.producer = KafkaProducer(kafka)
        self.publisher = KafkaPublisher(self.producer, kafka)

    def submit(self, text: str = TEXT, **fields: object) -> Job:
        backend = ScriptedBackend()
        submit = SubmitJob(
            self.uow_factory,
            FakeCatalog(backend),
            self.clock,
            Limits(),
            FixedLanguage(),
        )
        values: dict[str, object] = {
            "content_type": "plain",
            "backend": "scripted",
            "pictures": 3,
            **fields,
        }
        return submit(JobRequest(text=text, **values))  # type: ignore[arg-type]

    def relay(self) -> int:
        return RelayOutbox(self.uow_factory, self.publisher, self.clock)()

    def job(self, job_id: str) -> Job:
        with self.uow_factory() as uow:
            return uow.jobs.get(job_id)

    def processor(self, owner: str, backend: ScriptedBackend, **settings: float) -> ProcessJob:
        return ProcessJob(
            self.uow_factory,
            self.blobs,
            FakeCatalog(backend),
            self.clock,
            ProcessingSettings(**settings),  # type: ignore[arg-type]
            owner,
        )

    @contextmanager
    def worker(
        self,
        owner: str,
        backend: ScriptedBackend,
        *,
        concurrency: int = 1,
        grace: float = 10.0,
        group_id: str | None = None,
        processor: ProcessJob | None = None,
        steal_after: float = 0,
        **settings: float,
    ) -> Iterator[threading.Event]:
        """A JobConsumer in a thread; leaving the block stops it as SIGTERM would. It steals
        jobs queued for `steal_after` seconds (0: never, as in most tests)."""
        config = self.kafka.model_copy(update={"group_id": group_id or self.kafka.group_id})
        consumer = JobConsumer(
            config,
            processor or self.processor(owner, backend, **settings),
            DeadLetters(self.producer, config, owner),
            client_id=owner,
            concurrency=concurrency,
            shutdown_grace_seconds=grace,
            steal=FindStealable(self.uow_factory, self.clock, queued_for_seconds=steal_after),
            steal_interval_seconds=0.1,
        )
        stop = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                consumer.run(stop)
            except BaseException as error:
                failures.append(error)

        thread = threading.Thread(target=run, name=f"consumer-{owner}")
        thread.start()
        try:
            yield stop
        finally:
            stop.set()
            thread.join(timeout=60)
            assert not thread.is_alive(), f"worker {owner} did not stop"
            if failures:
                raise failures[0]


@pytest.fixture
def world(pg_engine: Engine, kafka: KafkaConfig) -> KafkaWorld:
    return KafkaWorld(pg_engine, kafka)
