"""Webhook rules in the core: signing, backoff, what is retried, and what is recorded."""

import json
from collections.abc import Mapping
from datetime import timedelta

import pytest

from stories_core.errors import WebhookRefused
from stories_core.model import WebhookState
from stories_core.services.webhooks import (
    SIGNATURE_HEADER,
    DeliverWebhooks,
    WebhookPolicy,
    backoff_seconds,
    sign,
    verify,
)
from tests.unit.conftest import World

TEXT = "First part.\n\nSecond part."
URL = "https://hooks.example.test/stories"
POLICY = WebhookPolicy(secret="s3cret", max_attempts=4, backoff_seconds=10, jitter=0.0)


class ScriptedSender:
    """Answers with the given statuses (or raises the given errors), recording requests."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.requests.append((url, body, dict(headers)))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def finished_job_with_webhook(world: World) -> str:
    """Its delivery is recorded with the job's end: no relay, no broker involved."""
    job = world.submit(world.request(TEXT, pictures=2, webhook_url=URL))
    world.processor()(job.id)
    return job.id


def deliver(world: World, sender: ScriptedSender, policy: WebhookPolicy = POLICY) -> int:
    return DeliverWebhooks(world.database, sender, world.clock, policy, draw=lambda: 1.0)()


def the_delivery(world: World, job_id: str):
    with world.database() as uow:
        [delivery] = uow.webhooks.for_job(job_id)
        return delivery, uow.webhooks.attempts(delivery.id)


def test_the_signature_verifies_and_tampering_or_age_breaks_it() -> None:
    body = b'{"id":"x"}'
    header = sign("secret", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify("secret", header, body, now=1_700_000_100)
    assert not verify("secret", header, body + b" ", now=1_700_000_100)
    assert not verify("other", header, body, now=1_700_000_100)
    assert not verify("secret", header, body, now=1_700_000_000 + 301), "too old: a replay"
    rotated = header + ",v1=" + "0" * 64
    assert verify("secret", rotated, body, now=1_700_000_000)
    assert not verify("secret", "v1=abc", body, now=1_700_000_000)


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens_it() -> None:
    policy = WebhookPolicy(secret="s", backoff_seconds=10, max_backoff_seconds=60, jitter=0.5)
    assert [backoff_seconds(n, policy, lambda: 0.0) for n in range(1, 6)] == [10, 20, 40, 60, 60]
    assert backoff_seconds(2, policy, lambda: 1.0) == 10


def test_relaying_records_one_delivery_per_terminal_event(world: World) -> None:
    job_id = finished_job_with_webhook(world)
    with world.database() as uow:
        [delivery] = uow.webhooks.for_job(job_id)
        uow.webhooks.add(delivery)  # relayed again after a crash: still one delivery
        assert len(uow.webhooks.for_job(job_id)) == 1
    assert delivery.url == URL and delivery.state is WebhookState.PENDING
    assert delivery.event["kind"] == "job.succeeded"


def test_a_delivery_is_posted_signed_and_recorded(world: World) -> None:
    job_id = finished_job_with_webhook(world)
    sender = ScriptedSender(204)
    assert deliver(world, sender) == 1
    [(url, body, headers)] = sender.requests
    assert url == URL
    delivery, [attempt] = the_delivery(world, job_id)
    document = json.loads(body)
    assert document["id"] == delivery.id == headers["Stories-Webhook-Id"]
    assert document["type"] == headers["Stories-Event"] == "job.succeeded"
    assert document["data"]["job_id"] == job_id
    assert verify("s3cret", headers[SIGNATURE_HEADER], body, world.clock.now().timestamp())
    assert delivery.state is WebhookState.SUCCEEDED and delivery.attempts == 1
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 204, None)
    assert deliver(world, ScriptedSender()) == 0, "nothing left to do"


def test_server_errors_and_timeouts_are_retried_with_backoff(world: World) -> None:
    job_id = finished_job_with_webhook(world)
    sender = ScriptedSender(500, TimeoutError("timed out"), 200)
    assert deliver(world, sender) == 1
    delivery, _ = the_delivery(world, job_id)
    assert delivery.next_attempt_at == world.clock.now() + timedelta(seconds=10)
    assert deliver(world, sender) == 0, "not due yet"
    world.clock.advance(10)
    assert deliver(world, sender) == 1
    world.clock.advance(19)
    assert deliver(world, sender) == 0
    world.clock.advance(1)
    assert deliver(world, sender) == 1
    delivery, attempts = the_delivery(world, job_id)
    assert delivery.state is WebhookState.SUCCEEDED
    assert [(a.status_code, a.error) for a in attempts] == [
        (500, "HTTP 500"),
        (None, "TimeoutError: timed out"),
        (200, None),
    ]
    bodies = {body for _, body, _ in sender.requests}
    assert len(bodies) == 1, "the same body every time; only the signature's time changes"


def test_the_last_attempt_fails_the_delivery(world: World) -> None:
    job_id = finished_job_with_webhook(world)
    sender = ScriptedSender(*[503] * 4)
    for _ in range(4):
        assert deliver(world, sender) == 1
        world.clock.advance(3600)
    delivery, attempts = the_delivery(world, job_id)
    assert delivery.state is WebhookState.FAILED and len(attempts) == 4


@pytest.mark.parametrize("outcome", [404, 401, WebhookRefused("127.0.0.1 is a loopback address")])
def test_a_refusal_is_final(world: World, outcome: int | Exception) -> None:
    job_id = finished_job_with_webhook(world)
    assert deliver(world, ScriptedSender(outcome)) == 1
    delivery, [attempt] = the_delivery(world, job_id)
    assert delivery.state is WebhookState.FAILED
    assert attempt.error is not None and delivery.last_error == attempt.error


def test_429_is_retried(world: World) -> None:
    job_id = finished_job_with_webhook(world)
    deliver(world, ScriptedSender(429))
    delivery, _ = the_delivery(world, job_id)
    assert delivery.state is WebhookState.PENDING


class Killed(BaseException):
    """The dispatcher's process dying mid-POST: nothing after the send runs."""


class DyingSender(ScriptedSender):
    """Sends (the receiver gets the request), then the dispatcher dies before recording it."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.requests.append((url, body, dict(headers)))
        raise Killed


def test_a_post_lost_to_a_crash_is_counted_so_the_retry_carries_the_next_attempt(
    world: World,
) -> None:
    job_id = finished_job_with_webhook(world)
    dying = DyingSender()
    with pytest.raises(Killed):
        deliver(world, dying)
    delivery, attempts = the_delivery(world, job_id)
    assert delivery.attempts == 1 and attempts == [], "counted at the claim, outcome unknown"
    assert deliver(world, ScriptedSender()) == 0, "claimed: hidden until the claim runs out"
    world.clock.advance(POLICY.claim_seconds)
    sender = ScriptedSender(204)
    assert deliver(world, sender) == 1
    [(_, first_body, first)] = dying.requests
    [(_, body, second)] = sender.requests
    assert first["Stories-Webhook-Id"] == second["Stories-Webhook-Id"] == delivery.id
    assert (first["Stories-Attempt"], second["Stories-Attempt"]) == ("1", "2")
    assert first_body == body
    delivery, attempts = the_delivery(world, job_id)
    assert delivery.state is WebhookState.SUCCEEDED and delivery.attempts == 2
    assert [(a.number, a.status_code) for a in attempts] == [(2, 204)], "the lost one has no row"


def test_a_post_lost_to_a_crash_counts_towards_max_attempts(world: World) -> None:
    policy = WebhookPolicy(secret="s3cret", max_attempts=2, backoff_seconds=10, jitter=0.0)
    job_id = finished_job_with_webhook(world)
    sender = ScriptedSender(503)
    assert deliver(world, sender, policy) == 1
    world.clock.advance(10)
    dying = DyingSender()
    with pytest.raises(Killed):
        deliver(world, dying, policy)
    assert dying.requests[0][2]["Stories-Attempt"] == "2"
    world.clock.advance(policy.claim_seconds)
    assert deliver(world, ScriptedSender(), policy) == 0, "no third POST"
    delivery, attempts = the_delivery(world, job_id)
    assert delivery.state is WebhookState.FAILED and delivery.attempts == 2
    assert "no outcome recorded (dispatcher stopped)" in (delivery.last_error or "")
    assert [(a.number, a.status_code) for a in attempts] == [(1, 503)]
