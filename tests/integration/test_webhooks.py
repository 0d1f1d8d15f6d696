"""Webhooks over real HTTP, on PostgreSQL: signed POSTs, retries with backoff, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine

from stories_adapters.runtime import SystemClock
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.webhooks import HttpWebhookSender
from stories_core.errors import WebhookRefused
from stories_core.model import JobState, WebhookDelivery, WebhookState
from stories_core.services.dispatch import RelayOutbox
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.submit import JobRequest, Limits, SubmitJob
from stories_core.services.webhooks import SIGNATURE_HEADER, DeliverWebhooks, WebhookPolicy, verify
from tests.fakes import (
    FakeCatalog,
    FixedLanguage,
    InMemoryBlobStore,
    ScriptedBackend,
)
from tests.integration.conftest import wait_until

SECRET = "whsec-test"


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that answers POSTs with scripted statuses."""

    statuses: list[int]
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(Received(body, dict(self.headers), time.time()))
                time.sleep(receiver.delay)
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver_factory() -> Iterator:
    servers: list[ThreadingHTTPServer] = []

    def start(statuses: Sequence[int] = (), delay: float = 0.0) -> Receiver:
        receiver = Receiver(list(statuses), delay)
        server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/stories?src=test"
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Webhooks:
    """A finished job with a webhook, and the use case that delivers it."""

    def __init__(self, engine: Engine) -> None:
        self.uow_factory = lambda: SqlUnitOfWork(engine)
        self.clock = SystemClock()

    def finish_job(self, url: str) -> str:
        catalog = FakeCatalog(ScriptedBackend())
        submit = SubmitJob(self.uow_factory, catalog, self.clock, Limits(), FixedLanguage())
        job = submit(JobRequest("One.\n\nTwo.", "plain", 2, backend="scripted", webhook_url=url))
        process = ProcessJob(
            self.uow_factory,
            InMemoryBlobStore(),
            catalog,
            self.clock,
            ProcessingSettings(),
            "worker-1",
        )
        assert process(job.id).state is JobState.SUCCEEDED

        class Broker:
            def publish(self, messages: object) -> None:
                pass

        while RelayOutbox(self.uow_factory, Broker(), self.clock)():
            pass
        return job.id

    def deliver(self, sender: HttpWebhookSender, **policy: float) -> DeliverWebhooks:
        settings = {"backoff_seconds": 0.2, "jitter": 0.0, "max_attempts": 5, **policy}
        return DeliverWebhooks(
            self.uow_factory, sender, self.clock, WebhookPolicy(SECRET, **settings)
        )

    def delivery(self, job_id: str) -> WebhookDelivery:
        with self.uow_factory() as uow:
            [delivery] = uow.webhooks.for_job(job_id)
            return delivery

    def attempts(self, job_id: str):
        with self.uow_factory() as uow:
            return uow.webhooks.attempts(self.delivery(job_id).id)


@pytest.fixture
def webhooks(pg_engine: Engine) -> Webhooks:
    return Webhooks(pg_engine)


def loopback_sender(timeout: float = 5.0) -> HttpWebhookSender:
    return HttpWebhookSender(timeout_seconds=timeout, allow="loopback")


def test_a_webhook_is_signed_and_retried_with_backoff_after_server_errors(
    webhooks: Webhooks, receiver_factory
) -> None:
    receiver = receiver_factory([500, 503, 204])
    job_id = webhooks.finish_job(receiver.url)
    deliver = webhooks.deliver(loopback_sender())

    def delivered() -> bool:
        deliver()
        return webhooks.delivery(job_id).state is WebhookState.SUCCEEDED

    wait_until(delivered, 10, "the webhook to be delivered")
    assert len(receiver.received) == 3
    for request in receiver.received:
        assert verify(SECRET, request.headers[SIGNATURE_HEADER], request.body, time.time())
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Stories-Event"] == "job.succeeded"
    assert len({r.body for r in receiver.received}) == 1
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, f"exponential backoff, got {gaps}"
    attempts = webhooks.attempts(job_id)
    assert [(a.number, a.status_code, a.error) for a in attempts] == [
        (1, 500, "HTTP 500"),
        (2, 503, "HTTP 503"),
        (3, 204, None),
    ]
    assert all(a.duration_ms >= 0 for a in attempts)


def test_an_internal_address_is_refused_and_not_retried(
    webhooks: Webhooks, receiver_factory
) -> None:
    receiver = receiver_factory()
    job_id = webhooks.finish_job(receiver.url)
    deliver = webhooks.deliver(HttpWebhookSender(timeout_seconds=5))  # production: allow none
    assert deliver() == 1
    assert deliver() == 0
    delivery = webhooks.delivery(job_id)
    assert delivery.state is WebhookState.FAILED
    assert "127.0.0.1, a loopback address" in (delivery.last_error or "")
    assert receiver.received == [], "never called"


def test_a_receiver_that_times_out_is_tried_again(webhooks: Webhooks, receiver_factory) -> None:
    receiver = receiver_factory([200], delay=1.0)
    job_id = webhooks.finish_job(receiver.url)
    webhooks.deliver(loopback_sender(timeout=0.2))()
    delivery = webhooks.delivery(job_id)
    assert delivery.state is WebhookState.PENDING and delivery.attempts == 1
    [attempt] = webhooks.attempts(job_id)
    assert attempt.status_code is None and "timed out" in (attempt.error or "")


class Killed(BaseException):
    """The dispatcher's process dying after a POST went out, before its outcome is recorded."""


class DyingAfterSending:
    def __init__(self, sender: HttpWebhookSender) -> None:
        self._sender = sender

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self._sender.send(url, body, headers)
        raise Killed


def test_a_dispatcher_killed_mid_post_retries_with_the_same_id_and_the_next_attempt(
    webhooks: Webhooks, receiver_factory
) -> None:
    receiver = receiver_factory([204, 204])
    job_id = webhooks.finish_job(receiver.url)
    with pytest.raises(Killed):
        webhooks.deliver(DyingAfterSending(loopback_sender()), claim_seconds=0.3)()
    deliver = webhooks.deliver(loopback_sender(), claim_seconds=0.3)
    assert deliver() == 0, "still claimed by the dead dispatcher"
    wait_until(lambda: deliver() == 1, 10, "the claim to run out and the webhook to be sent again")
    first, second = receiver.received
    assert first.headers["Stories-Webhook-Id"] == second.headers["Stories-Webhook-Id"]
    assert (first.headers["Stories-Attempt"], second.headers["Stories-Attempt"]) == ("1", "2")
    assert first.body == second.body
    delivery = webhooks.delivery(job_id)
    assert delivery.state is WebhookState.SUCCEEDED and delivery.attempts == 2
    assert [(a.number, a.status_code) for a in webhooks.attempts(job_id)] == [(2, 204)]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0:8080/hook",
        "http://100.64.0.1/hook",
        "ftp://example.test/hook",
    ],
)
def test_private_link_local_and_odd_destinations_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefused):
        loopback_sender().send(url, b"{}", {})


def test_allowing_an_unknown_kind_of_address_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown address kinds"):
        HttpWebhookSender(timeout_seconds=1, allow="loopback,intranet")
