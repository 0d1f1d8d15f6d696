"""The worker's consumer loop: job doorbells from the jobs topic, run through ProcessJob.

The database is the source of truth and Kafka only rings: a message's offset is stored once
the job's outcome is recorded (or the job turned out to be someone else's), so a crash
re-reads at most the messages in flight, and a repeated message is harmless because a job
runs only under its lease.

Up to `concurrency` jobs run at once, on a thread pool, so one slow job does not hold back
every message behind it. Doorbells polled beyond that wait in a small buffer; when it is
full the assigned partitions are paused and polling goes on, so heartbeats and rebalances
are served and a job may take longer than max.poll.interval.ms. The buffer hides the
fetch that follows a resume (librdkafka fetches again only at its next wake-up, up to a
second later), and while doorbells wait for a slot the loop wakes as soon as a job ends.

Doorbells are keyed by job id, so a batch spreads unevenly over the members' partitions.
A worker with a free slot and no doorbell waiting asks the database (at most every
`steal_interval_seconds`) for jobs queued for a while and runs them as if rung: the lease
keeps each job single, and the doorbell reaching its owner later is turned away.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from stories_adapters.kafka.codec import UndecodableMessage, decode_job_message
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.dlq import DeadLetters
from stories_core.services.process import ProcessJob

log = logging.getLogger(__name__)
BUFFERED_DOORBELLS = 16
"""Doorbells held beyond the running jobs before partitions are paused (they are tiny);
polling resumes when half of them have started."""


class OffsetTracker:
    """Offsets safe to commit while jobs finish out of order: per partition, the lowest
    offset still in flight (running or waiting), or one past the highest finished."""

    def __init__(self) -> None:
        self._in_flight: dict[tuple[str, int], set[int]] = {}
        self._next: dict[tuple[str, int], int] = {}

    def started(self, message: Message) -> None:
        key = (message.topic(), message.partition())
        self._in_flight.setdefault(key, set()).add(message.offset())

    def finished(self, message: Message) -> TopicPartition | None:
        """The position to store now; None if the partition was revoked meanwhile."""
        key = (message.topic(), message.partition())
        if key not in self._in_flight:
            return None
        pending = self._in_flight[key]
        pending.discard(message.offset())
        self._next[key] = max(self._next.get(key, 0), message.offset() + 1)
        return TopicPartition(*key, min(pending) if pending else self._next[key])

    def forget(self, partitions: list[TopicPartition]) -> None:
        for partition in partitions:
            self._in_flight.pop((partition.topic, partition.partition), None)
            self._next.pop((partition.topic, partition.partition), None)


class JobConsumer:
    def __init__(
        self,
        config: KafkaConfig,
        process_job: ProcessJob,
        dead_letters: DeadLetters,
        *,
        client_id: str,
        concurrency: int,
        shutdown_grace_seconds: float,
        poll_seconds: float = 0.2,
        steal: Callable[[int], list[tuple[str, str]]] | None = None,
        steal_interval_seconds: float = 0.5,
    ) -> None:
        """`steal(limit)`: up to `limit` (job id, trace id) of jobs waiting too long for
        their doorbells (see `stories_core.services.steal`); None never steals."""
        self._config = config
        self._process_job = process_job
        self._dead_letters = dead_letters
        self._client_id = client_id
        self._concurrency = concurrency
        self._grace = shutdown_grace_seconds
        self._poll_seconds = poll_seconds
        self._tracker = OffsetTracker()
        self._waiting: deque[tuple[Message, str, str]] = deque()
        self._running: dict[Future[None], tuple[Message | None, str]] = {}  # None: stolen
        self._finished: queue.SimpleQueue[Future[None]] = queue.SimpleQueue()
        self._paused = False
        self._steal = steal
        self._steal_interval = steal_interval_seconds
        self._next_steal = 0.0

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then shut down gracefully (see `_shut_down`).

        The consumer is closed (its partitions handed over) before the pool is waited for:
        a released job still running stops at its next fenced write, within one step."""
        consumer = Consumer(self._config.consumer(self._client_id))
        consumer.subscribe(
            [self._config.jobs_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix=self._client_id)
        try:
            while not stop.is_set():
                # Doorbells wait only while every slot is busy: then a job's end is the news
                # to wake for, and the consumer is polled without blocking.
                self._collect_finished(consumer, self._poll_seconds if self._waiting else 0)
                self._start_waiting(pool)
                self._pause_while_buffer_full(consumer)
                message = consumer.poll(0 if self._waiting else self._poll_seconds)
                if message is not None:
                    self._take(consumer, message)
                    self._start_waiting(pool)
                elif not stop.is_set():
                    self._steal_while_idle(pool)
            self._shut_down(consumer)
        finally:
            consumer.close()
            pool.shutdown(wait=True)
        log.info("worker %s stopped", self._client_id)

    def _take(self, consumer: Consumer, message: Message) -> None:
        """A polled message waits for a slot; a poison one goes to the DLQ at once."""
        if message.error():
            self._on_error(message.error())
            return
        self._tracker.started(message)
        try:
            doorbell = decode_job_message(message.value())
        except UndecodableMessage as error:
            log.error("poison message at %s: %s", _where(message), error)
            self._dead_letters.send(message, error, "decode")
            self._store(consumer, message)
            return
        self._waiting.append((message, doorbell.job_id, doorbell.trace_id))

    def _start_waiting(self, pool: ThreadPoolExecutor) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            message, job_id, trace_id = self._waiting.popleft()
            future = pool.submit(self._process, job_id, trace_id)
            self._running[future] = (message, job_id)
            future.add_done_callback(self._finished.put)

    def _steal_while_idle(self, pool: ThreadPoolExecutor) -> None:
        """With a slot free and no doorbell waiting, run jobs that waited too long on
        other members' partitions (or whose doorbells were lost)."""
        free = self._concurrency - len(self._running)
        if self._steal is None or self._waiting or free <= 0:
            return
        now = time.monotonic()
        if now < self._next_steal:
            return
        self._next_steal = now + self._steal_interval
        try:
            found = self._steal(free)
        except Exception as error:  # the database is unreachable: the doorbells still ring
            log.warning("looking for jobs to steal failed: %r", error)
            return
        mine = {job_id for _, job_id in self._running.values()}
        for job_id, trace_id in found:
            if job_id in mine:
                continue
            future = pool.submit(self._process, job_id, trace_id, True)
            self._running[future] = (None, job_id)
            future.add_done_callback(self._finished.put)

    def _process(self, job_id: str, trace_id: str, stolen: bool = False) -> None:
        how = "stolen (its doorbell is elsewhere)" if stolen else "doorbell received"
        log.info("job %s: %s", job_id, how, extra={"trace_id": trace_id})
        job = self._process_job(job_id)
        if job is None:
            log.info("job %s: held by another worker or ended", job_id)
        else:
            log.info("job %s: %s", job_id, job.state.value, extra={"trace_id": trace_id})

    def _collect_finished(self, consumer: Consumer, wait_seconds: float = 0) -> None:
        """Store the offsets of jobs that finished (waiting up to `wait_seconds` for one);
        a job whose run raised (the database was unreachable, say) has its message sent to
        the DLQ first: the job stays claimable in the database, and the sweeper rings again."""
        try:
            future = self._finished.get(timeout=wait_seconds or None, block=wait_seconds > 0)
        except queue.Empty:
            return
        while True:
            running = self._running.pop(future, None)  # None: released at shutdown
            if running is not None:
                message, job_id = running
                error = future.exception()
                if error is not None:
                    log.error("job %s: worker failed: %r", job_id, error)
                    if message is not None:
                        self._dead_letters.send(message, error, "process")
                if message is not None:
                    self._store(consumer, message)
            try:
                future = self._finished.get_nowait()
            except queue.Empty:
                return

    def _store(self, consumer: Consumer, message: Message) -> None:
        position = self._tracker.finished(message)
        if position is None:
            return
        try:
            consumer.store_offsets(offsets=[position])
        except KafkaException as error:  # revoked between the job's end and now
            log.info("offset for %s not stored: %s", _where(message), error)

    def _pause_while_buffer_full(self, consumer: Consumer) -> None:
        if len(self._waiting) >= BUFFERED_DOORBELLS:
            consumer.pause(consumer.assignment())  # again each time: new partitions too
            self._paused = True
        elif self._paused and len(self._waiting) <= BUFFERED_DOORBELLS // 2:
            consumer.resume(consumer.assignment())
            self._paused = False

    def _shut_down(self, consumer: Consumer) -> None:
        """Let in-flight jobs finish within the grace period and give the others back, so
        another worker resumes them now rather than when their leases expire; then store
        what is done and commit. Waiting doorbells are left to the partitions' next owner."""
        _, unfinished = wait(list(self._running), timeout=self._grace)
        self._collect_finished(consumer)
        for future in unfinished:
            message, job_id = self._running.pop(future)
            try:
                released = self._process_job.release(job_id)
            except Exception:
                log.exception("job %s: could not be released; its lease will expire", job_id)
                continue
            log.warning("job %s: %s at shutdown", job_id, "released" if released else "not ours")
            if message is not None:
                self._store(consumer, message)  # its doorbell rings again through the outbox
        _commit(consumer)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned partitions %s", self._client_id, [p.partition for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done before another member takes the partitions, and drop their
        waiting doorbells (the new owner reads them again). Jobs still running from them go
        on under their leases; the new owner's claim of a repeated doorbell is refused."""
        log.info("%s: revoked partitions %s", self._client_id, [p.partition for p in partitions])
        self._collect_finished(consumer)
        _commit(consumer)
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("%s: lost partitions %s", self._client_id, [p.partition for p in partitions])
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self._waiting = deque(
            item for item in self._waiting if (item[0].topic(), item[0].partition()) not in gone
        )
        self._tracker.forget(partitions)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer error: %s", error)


def _commit(consumer: Consumer) -> None:
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._NO_OFFSET:
            log.warning("commit failed: %s", error)


def _where(message: Message) -> str:
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
