"""The fault suite of issue 15, on the real services: two `stories worker`s and a
`stories dispatcher` run a batch of slow jobs (the `sleepy` backend) with webhooks, and a
dependency fails under them: a database restart, a 30-second database outage, a broker
restart that loses everything, a 30-second object-store outage, a dispatcher SIGKILL, and
poison messages on the jobs topic. (A worker SIGKILL is in test_production.py.)

The processes reach PostgreSQL and S3 through fault proxies (tests/faultproxy.py); the
broker restart runs on a broker of the test's own. The scenarios and what every one of
them asserts are in tests/e2e/faults.py, shared with bench/faults.py (which repeats them
and prints the recovery times' p50 and worst).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Producer

from tests.e2e.faults import (
    Outcome,
    Scenario,
    read_dead_letters,
    run_broker_restart,
    run_database_outage,
    run_database_restart,
    run_dispatcher_sigkill,
    run_object_store_outage,
    run_poison_messages,
)
from tests.e2e.stack import (
    ProductionStack,
    Proxies,
    RestartableTansu,
    Webhook,
    WebhookReceiver,
    own_broker,
    proxies,
    sleepy_site,
    stack,
    webhook_receiver,
)
from tests.faultproxy import FaultProxy

__all__ = ["own_broker", "proxies", "sleepy_site", "stack", "webhook_receiver"]  # fixtures
pytestmark = pytest.mark.slow


@pytest.fixture
def scenario(
    stack: ProductionStack, proxies: Proxies, webhook_receiver: WebhookReceiver
) -> Iterator[Scenario]:
    moto = logging.getLogger("werkzeug")  # a line per S3 request, in every failure report
    level = moto.level
    moto.setLevel(logging.WARNING)
    yield Scenario(stack, proxies, webhook_receiver)
    moto.setLevel(level)


def run(scenario: Scenario, fault: Callable[[Scenario], Outcome]) -> None:
    """The scenario (it prints its recovery figure, then checks), then the bound."""
    outcome = fault(scenario)
    assert outcome.recovery <= outcome.bound, outcome.line()
    assert scenario.proxies.database.accepted > 0, "the processes bypassed the database proxy"
    assert scenario.proxies.object_store.accepted > 0, "the processes bypassed the S3 proxy"


def test_a_database_restart_pauses_the_running_jobs(scenario: Scenario) -> None:
    run(scenario, run_database_restart)


def test_a_30_second_database_outage_is_a_pause(scenario: Scenario) -> None:
    run(scenario, run_database_outage)


def test_after_a_broker_restart_that_lost_everything_the_outbox_drains(
    scenario: Scenario, own_broker: RestartableTansu
) -> None:
    scenario.broker = own_broker
    run(scenario, run_broker_restart)


def test_a_30_second_object_store_outage_is_a_pause(scenario: Scenario) -> None:
    run(scenario, run_object_store_outage)


def test_a_dispatcher_sigkilled_while_posting_webhooks_is_replaced_without_loss(
    scenario: Scenario,
) -> None:
    run(scenario, run_dispatcher_sigkill)


def test_poison_messages_go_to_the_dead_letter_topic_and_the_workers_go_on(
    scenario: Scenario,
) -> None:
    run(scenario, run_poison_messages)


def test_the_checks_are_not_blind(scenario: Scenario) -> None:
    """The harness itself: after a clean run the checks pass, and each fails on what it
    is there to catch (a dead letter, a stray object, a POST repeated with the same
    attempt number, an outage logged but never back)."""
    scenario.start()
    scenario.submit(1, pictures=2)
    scenario.wait_for_jobs()
    scenario.check()

    config = scenario.stack.kafka_config()
    producer = Producer({"bootstrap.servers": config.brokers})
    producer.produce(config.dlq_topic, b"a dead letter")
    assert producer.flush(10) == 0
    assert [m.value() for m in read_dead_letters(scenario.stack)] == [b"a dead letter"]

    [job_id] = scenario.job_ids
    job = scenario.stack.job(job_id)
    key = job.segments[0].assets[0].key
    blobs = scenario.stack.application.storage.blobs()
    blobs.put(key.replace("segments/0/", "segments/0/again-"), b"twice", "image/png")
    with pytest.raises(AssertionError, match="objects"):
        scenario.check_objects()

    [first] = scenario.receiver.received
    scenario.receiver.received.append(Webhook(first.body, first.headers, first.arrived + 1))
    with pytest.raises(AssertionError, match="Stories-Attempt"):
        scenario.check_webhooks()

    down = '{"levelname": "ERROR", "message": "database unreachable: recording segment 1"}'
    with (scenario.stack.logs / "worker-1.log").open("a") as log:
        log.write(down + "\n")
    with pytest.raises(AssertionError, match="never back"):
        scenario.check_logs("database", set(), some_process_sees=True, grace_seconds=0)


def test_the_fault_proxy_cuts_refuses_and_restores() -> None:
    """The proxy on its own, against an echo server: forwarding, a half-close passed on,
    `cut` (both ends read end of stream), `refuse` (ECONNREFUSED) and `restore`."""
    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=connection: _echo(c), daemon=True).start()

    threading.Thread(target=echo, daemon=True).start()
    try:
        with FaultProxy(*server.getsockname()[:2]) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
                client.sendall(b"ping")
                assert client.recv(16) == b"ping"
                client.shutdown(socket.SHUT_WR)
                assert client.recv(16) == b""
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
                client.sendall(b"ping")
                assert client.recv(16) == b"ping"
                assert proxy.cut() == 1
                assert client.recv(16) == b""
            assert proxy.refuse() == 0 and proxy.refusing
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            proxy.restore()
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
                client.sendall(b"again")
                assert client.recv(16) == b"again"
                assert proxy.refuse() == 1  # an open connection is cut as well
                assert client.recv(16) == b""
            assert proxy.accepted == 3
    finally:
        server.close()


def _echo(connection: socket.socket) -> None:
    with connection:
        while data := connection.recv(1024):
            connection.sendall(data)
