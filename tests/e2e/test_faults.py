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
from collections.abc import Callable

import pytest

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
    WebhookReceiver,
    own_broker,
    proxies,
    sleepy_site,
    stack,
    webhook_receiver,
)

__all__ = ["own_broker", "proxies", "sleepy_site", "stack", "webhook_receiver"]  # fixtures
pytestmark = pytest.mark.slow


@pytest.fixture
def scenario(
    stack: ProductionStack, proxies: Proxies, webhook_receiver: WebhookReceiver
) -> Scenario:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto: a line per request
    return Scenario(stack, proxies, webhook_receiver)


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


def test_the_dead_letter_count_sees_a_dead_letter(scenario: Scenario) -> None:
    """The harness itself: the count the outage tests assert zero on is not blind."""
    from confluent_kafka import Producer

    config = scenario.stack.kafka_config()
    scenario.start()  # the workers create the topics
    producer = Producer({"bootstrap.servers": config.brokers})
    producer.produce(config.dlq_topic, b"a dead letter")
    assert producer.flush(10) == 0
    assert [m.value() for m in read_dead_letters(scenario.stack)] == [b"a dead letter"]
