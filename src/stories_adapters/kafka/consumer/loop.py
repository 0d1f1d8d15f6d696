"""The consumer loop: poll job doorbells, hand them to the jobs strategy, store offsets.

Kafka only rings: a message's offset is stored once its job's outcome is recorded (or the
job turned out to be someone else's), in order per partition (`offsets.py`), and committed
at a rebalance and at shutdown. Jobs run on a pool (`run_jobs.py`); an idle worker steals
(`stealing.py`). A message that is not a job, or whose run failed in a way no retry will
cure (a bug), goes to the dead-letter topic before its offset is stored. A run that gave up
because a dependency stayed unavailable is not the message's fault: its offset is stored
and the job, still claimable in the database, is rung again by the sweeper.

Doorbells polled while every slot is busy wait in a small buffer; when it is full the
assigned partitions are paused and polling goes on, so heartbeats and rebalances are served
and a job may take longer than max.poll.interval.ms. The buffer hides the fetch that follows
a resume (librdkafka fetches again only at its next wake-up, up to a second later), and
while doorbells wait for a slot the loop wakes as soon as a job ends.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from stories_adapters.kafka.client_log import ClientLog
from stories_adapters.kafka.codec import (
    TRACEPARENT_HEADER,
    UndecodableMessage,
    decode_job_message,
    header,
)
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.consumer.offsets import OffsetTracker
from stories_adapters.kafka.consumer.run_jobs import Finished, ProcessesJobs, RunJobs, Task
from stories_adapters.kafka.consumer.stealing import Steal, WorkStealing
from stories_adapters.kafka.dlq import DeadLetters
from stories_adapters.metrics import record_consumer_stats
from stories_core.errors import DependencyUnavailable

log = logging.getLogger(__name__)
STATISTICS_INTERVAL_MS = 5_000
"""How often librdkafka reports the consumer lag (`metrics.CONSUMER_LAG`)."""
BUFFERED_DOORBELLS = 16
"""Doorbells held beyond the running jobs before partitions are paused (they are tiny);
polling resumes when half of them have started."""


class JobConsumer:
    def __init__(
        self,
        config: KafkaConfig,
        process_job: ProcessesJobs,
        dead_letters: DeadLetters,
        *,
        client_id: str,
        concurrency: int,
        shutdown_grace_seconds: float,
        poll_seconds: float = 0.2,
        steal: Steal | None = None,
        steal_interval_seconds: float = 0.5,
    ) -> None:
        """`steal(limit)`: up to `limit` (job id, trace id) of jobs waiting too long for
        their doorbells (see `stories_core.services.steal`); None never steals."""
        self._config = config
        self._dead_letters = dead_letters
        self._client_id = client_id
        self._grace = shutdown_grace_seconds
        self._poll_seconds = poll_seconds
        self._offsets = OffsetTracker()
        self._jobs = RunJobs(process_job, concurrency, name=client_id)
        self._stealing = WorkStealing(steal, steal_interval_seconds)
        self._paused = False
        self._client_log = ClientLog()
        self._assigned = False

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then shut down gracefully (see `_shut_down`).

        The consumer is closed (its partitions handed over) before the pool is waited for:
        a released job still running stops at its next fenced write, within one step."""
        consumer = Consumer(
            {
                **self._config.consumer(self._client_id),
                "logger": self._client_log,
                "stats_cb": record_consumer_stats,
                "statistics.interval.ms": STATISTICS_INTERVAL_MS,
            }
        )
        consumer.subscribe(
            [self._config.jobs_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not stop.is_set():
                # Doorbells wait only while every slot is busy: then a job's end is the news
                # to wake for, and the consumer is polled without blocking.
                wait = self._poll_seconds if self._jobs.waiting else 0
                self._finish(consumer, self._jobs.collect(wait))
                self._jobs.start_waiting()
                self._pause_while_buffer_full(consumer)
                message = consumer.poll(0 if self._jobs.waiting else self._poll_seconds)
                if message is not None and not message.error():
                    self._client_log.outage.succeeded()
                if message is not None:
                    self._take(consumer, message)
                    self._jobs.start_waiting()
                elif not stop.is_set():
                    self._steal_while_idle()
            self._shut_down(consumer)
        finally:
            consumer.close()
            self._jobs.close()
        log.info("worker %s stopped", self._client_id)

    def _take(self, consumer: Consumer, message: Message) -> None:
        """A polled message waits for a slot; a poison one goes to the DLQ at once."""
        if message.error():
            self._on_error(message.error())
            return
        self._offsets.started(*_place(message))
        try:
            doorbell = decode_job_message(message.value())
        except UndecodableMessage as error:
            log.error("poison message at %s: %s", _where(message), error)
            self._dead_letters.send(message, error, "decode")
            self._store(consumer, message)
            return
        traceparent = header(message, TRACEPARENT_HEADER)
        self._jobs.submit(Task(doorbell.job_id, doorbell.trace_id, message, traceparent))

    def _steal_while_idle(self) -> None:
        """Run jobs that waited too long on other members' partitions (or whose doorbells
        were lost), when a slot is free and no doorbell waits (see `stealing.py`)."""
        found = self._stealing.find(
            free_slots=self._jobs.free_slots,
            waiting=self._jobs.waiting,
            running=self._jobs.running_job_ids,
        )
        for job_id, trace_id in found:
            self._jobs.submit(Task(job_id, trace_id))
        self._jobs.start_waiting()

    def _finish(self, consumer: Consumer, finished: list[Finished]) -> None:
        """Store the offsets of jobs that ended. A run that raised a bug has its message
        sent to the DLQ first; one that gave up on an unavailable dependency (already told
        by the outage log) does not. Either way the job stays claimable in the database,
        and the sweeper rings again."""
        for task, error in finished:
            if isinstance(error, DependencyUnavailable):
                log.warning("job %s: left for later: %s", task.job_id, error.message)
            elif error is not None:
                log.error("job %s: worker failed: %r", task.job_id, error)
                if task.message is not None:
                    self._dead_letters.send(task.message, error, "process")
            if task.message is not None:
                self._store(consumer, task.message)

    def _store(self, consumer: Consumer, message: Message) -> None:
        topic, partition, offset = _place(message)
        position = self._offsets.finished(topic, partition, offset)
        if position is None:  # revoked meanwhile
            return
        try:
            consumer.store_offsets(offsets=[TopicPartition(topic, partition, position)])
        except KafkaException as error:  # revoked between the job's end and now
            log.info("offset for %s not stored: %s", _where(message), error)

    def _pause_while_buffer_full(self, consumer: Consumer) -> None:
        if self._jobs.waiting >= BUFFERED_DOORBELLS:
            consumer.pause(consumer.assignment())  # again each time: new partitions too
            self._paused = True
        elif self._paused and self._jobs.waiting <= BUFFERED_DOORBELLS // 2:
            consumer.resume(consumer.assignment())
            self._paused = False

    def _shut_down(self, consumer: Consumer) -> None:
        """Let in-flight jobs finish within the grace period and give the others back, so
        another worker resumes them now rather than when their leases expire; then store
        what is done and commit. Waiting doorbells are left to the partitions' next owner."""
        self._jobs.join(self._grace)
        self._finish(consumer, self._jobs.collect())
        for task in self._jobs.release_running():
            if task.message is not None:
                self._store(consumer, task.message)  # its doorbell rings again via the outbox
        _commit(consumer)

    @property
    def ready(self) -> bool:
        """Whether the broker answers and this member was given its place in the group
        (possibly no partitions: a group larger than the topic)."""
        return self._assigned and not self._client_log.outage.down

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = True
        self._client_log.outage.succeeded()
        log.info("%s: assigned partitions %s", self._client_id, [p.partition for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done before another member takes the partitions, and drop their
        waiting doorbells (the new owner reads them again). Jobs still running from them go
        on under their leases; the new owner's claim of a repeated doorbell is refused."""
        log.info("%s: revoked partitions %s", self._client_id, [p.partition for p in partitions])
        self._finish(consumer, self._jobs.collect())
        _commit(consumer)
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("%s: lost partitions %s", self._client_id, [p.partition for p in partitions])
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self._jobs.drop_waiting(gone)
        self._offsets.forget(gone)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        if error.code() in _BROKER_DOWN:  # librdkafka reconnects by itself
            self._client_log.outage.failed(f"consuming job doorbells: {error.str()}")
        else:
            log.warning("consumer error: %s", error)


_BROKER_DOWN = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE})


def _commit(consumer: Consumer) -> None:
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._NO_OFFSET:
            log.warning("commit failed: %s", error)


def _place(message: Message) -> tuple[str, int, int]:
    """(topic, partition, offset): set on every consumed message without an error."""
    return cast(tuple[str, int, int], (message.topic(), message.partition(), message.offset()))


def _where(message: Message) -> str:
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
