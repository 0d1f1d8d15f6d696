"""Work stealing in the consumer: only when idle, at most once an interval, never a job
already running here, and a database that cannot be asked changes nothing."""

import logging

import pytest

from stories_adapters.kafka.consumer.stealing import WorkStealing
from stories_core.errors import DatabaseUnavailable

QUEUED = [("job-1", "trace-1"), ("job-2", "trace-2")]


class Steal:
    """A `steal(limit)` that records its limits and answers from a list."""

    def __init__(self, found: list[tuple[str, str]] = QUEUED) -> None:
        self.found = found
        self.limits: list[int] = []

    def __call__(self, limit: int) -> list[tuple[str, str]]:
        self.limits.append(limit)
        return self.found[:limit]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_worker_asks_for_as_many_jobs_as_it_has_free_slots() -> None:
    steal = Steal()
    stealing = WorkStealing(steal, 0.5, clock=Clock())
    assert stealing.find(free_slots=2, waiting=0, running=set()) == QUEUED
    assert steal.limits == [2]


def test_no_free_slot_or_a_waiting_doorbell_means_the_database_is_not_asked() -> None:
    steal = Steal()
    stealing = WorkStealing(steal, 0.5, clock=Clock())
    assert stealing.find(free_slots=0, waiting=0, running={"job-9"}) == []
    assert stealing.find(free_slots=1, waiting=1, running=set()) == []
    assert steal.limits == []
    assert stealing.find(free_slots=1, waiting=0, running=set()) == QUEUED[:1], (
        "a busy moment does not use up the interval"
    )


def test_the_database_is_asked_at_most_once_an_interval() -> None:
    steal, clock = Steal(found=[]), Clock()
    stealing = WorkStealing(steal, 0.5, clock=clock)
    assert stealing.find(free_slots=1, waiting=0, running=set()) == []
    clock.now += 0.4
    assert stealing.find(free_slots=1, waiting=0, running=set()) == []
    assert steal.limits == [1]
    clock.now += 0.1
    stealing.find(free_slots=3, waiting=0, running=set())
    assert steal.limits == [1, 3]


def test_a_job_already_running_here_is_not_started_twice() -> None:
    stealing = WorkStealing(Steal(), 0.5, clock=Clock())
    assert stealing.find(free_slots=2, waiting=0, running={"job-1"}) == [("job-2", "trace-2")]


def test_without_a_steal_function_nothing_is_stolen() -> None:
    assert WorkStealing(None, 0.5, clock=Clock()).find(free_slots=4, waiting=0, running=()) == []


def test_a_failing_lookup_is_logged_and_tried_again_an_interval_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database outage is told once, however many lookups fail; a bug is logged loud."""
    calls = []
    failures: list[Exception] = [
        DatabaseUnavailable("the database did not answer"),
        DatabaseUnavailable("the database did not answer"),
        KeyError("a bug"),
    ]

    def lookup(limit: int) -> list[tuple[str, str]]:
        calls.append(limit)
        raise failures.pop(0)

    clock = Clock()
    stealing = WorkStealing(lookup, 0.5, clock=clock)
    with caplog.at_level(logging.WARNING, logger="stories_adapters.kafka.consumer"):
        for _ in range(3):
            assert stealing.find(free_slots=1, waiting=0, running=set()) == []
            assert stealing.find(free_slots=1, waiting=0, running=set()) == [], "not yet"
            clock.now += 0.5
    assert [r.getMessage() for r in caplog.records] == [
        "database unreachable: looking for jobs to steal: the database did not answer",
        "looking for jobs to steal failed",
    ]
    assert caplog.records[1].exc_info is not None
    assert calls == [1, 1, 1]
