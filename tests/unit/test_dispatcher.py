"""The dispatcher's loops through an outage: tried again after a pause, told once each way."""

import logging
import threading
from collections.abc import Callable

import pytest

from stories_adapters import dispatcher as dispatcher_module
from stories_adapters.dispatcher import Dispatcher
from stories_adapters.kafka.client_log import ClientLog
from stories_core.errors import BrokerUnavailable, DatabaseUnavailable


def scripted(outcomes: list[Exception | int], stop: threading.Event) -> Callable[[], int]:
    """A pass that raises or returns each outcome in turn, then stops the dispatcher."""

    def step() -> int:
        if not outcomes:
            stop.set()
            return 0
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return step


def run(relay: list[Exception | int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "ERROR_PAUSE_SECONDS", 0.0)
    stop = threading.Event()
    Dispatcher(
        scripted(relay, stop),
        lambda: 0,
        None,
        poll_seconds=0.0,
        sweep_interval_seconds=3600,
        webhook_threads=0,
    ).run(stop)


def test_a_broker_outage_is_told_once_each_way_and_the_relay_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    down = BrokerUnavailable("Kafka did not acknowledge 1 of 1 messages")
    run([1, down, down, down, 5, 0], monkeypatch)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "Kafka broker unreachable: relaying the outbox: Kafka did not acknowledge 1 of 1 messages",
        caplog.records[-1].getMessage(),
    ]
    assert caplog.records[-1].getMessage().startswith("Kafka broker back after ")
    assert caplog.records[-1].getMessage().endswith("(3 failed calls)")


def test_a_database_outage_ends_at_the_first_pass_that_works_even_with_nothing_to_do(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    down = DatabaseUnavailable("the database refused the connection")
    run([down, down, 0], monkeypatch)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "database unreachable: relaying the outbox: " + down.message
    assert messages[1].startswith("database back after ") and "(2 failed calls)" in messages[1]
    assert len(messages) == 2


def test_librdkafkas_connection_failures_go_to_the_outage_log_and_the_rest_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client_log = ClientLog()
    for _ in range(50):
        client_log.log(40, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connect failed")
    client_log.log(30, "%s [%s] %s", "CONFWARN", "rdkafka#producer-1", "a setting is odd")
    client_log.outage.succeeded()
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka broker unreachable: connecting: Connect failed",
        "CONFWARN [rdkafka#producer-1] a setting is odd",
        caplog.records[-1].getMessage(),
    ]
    assert "(50 failed calls)" in caplog.records[-1].getMessage()
