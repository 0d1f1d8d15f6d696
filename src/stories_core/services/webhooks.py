"""Webhooks: a job's terminal event, POSTed to the job's URL, signed, retried with backoff.

Delivery is at least once (a dispatcher can die between a POST and recording it), so every
request carries the delivery's id (`Stories-Webhook-Id`, the same on every retry) for
receivers to drop repeats, and an attempt number (`Stories-Attempt`) that is counted when the
delivery is claimed, before the POST, so it grows with every POST even across a crash.

The body is signed with HMAC-SHA256 over `timestamp + "." + body`, in the header
`Stories-Signature: t=<unix seconds>,v1=<hex digest>`; the timestamp lets a receiver
refuse replays of an old request, and several `v1=` values may appear while secrets rotate.

Each POST is a span of the job's trace and carries its W3C `traceparent`, so a receiver
that traces can continue the trace.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, StatusCode

from stories_core.errors import WebhookRefused
from stories_core.model import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookState,
)
from stories_core.ports import Clock, UnitOfWorkFactory, WebhookSender
from stories_core.telemetry import job_context, tracer

SIGNATURE_HEADER = "Stories-Signature"
ID_HEADER = "Stories-Webhook-Id"
EVENT_HEADER = "Stories-Event"
ATTEMPT_HEADER = "Stories-Attempt"
TRACE_HEADER = "Stories-Trace-Id"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Besides 5xx, the statuses that say "later"; any other 4xx will not change on a retry."""


@dataclass(frozen=True)
class WebhookPolicy:
    secret: str
    max_attempts: int = 8
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0
    jitter: float = 0.2
    """Each delay is shortened by up to this share, so receivers that failed together are
    not retried in lockstep."""
    claim_seconds: float = 60.0
    """How long a delivery being attempted is hidden from other dispatchers; longer than
    a request can take."""


def backoff_seconds(attempts: int, policy: WebhookPolicy, draw: Callable[[], float]) -> float:
    """Delay after the `attempts`-th failure: doubling from the base, capped, jittered down."""
    delay = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempts - 1))
    return delay * (1 - policy.jitter * draw())


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON body; the same bytes on every attempt."""
    document = {
        "id": delivery.id,
        "type": delivery.event["kind"],
        "created_at": delivery.event["occurred_at"],
        "data": delivery.event,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Stories-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance_seconds: float = 300.0
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in fields if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in fields)


class DeliverWebhooks:
    """Attempt the deliveries that are due, one at a time, recording every attempt."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        sender: WebhookSender,
        clock: Clock,
        policy: WebhookPolicy,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._uow_factory = uow_factory
        self._sender = sender
        self._clock = clock
        self._policy = policy
        self._draw = draw

    def __call__(self, limit: int = 20) -> int:
        """Attempt up to `limit` due deliveries; returns how many were attempted."""
        for attempted in range(limit):
            delivery = self._claim_next()
            if delivery is None:
                return attempted
            self._attempt(delivery)
        return limit

    def _claim_next(self) -> WebhookDelivery | None:
        """Take the oldest due delivery, count the attempt about to be made, and hide the
        delivery from other dispatchers while we try it, all in one transaction before the
        POST; if we die trying, it is due again when the claim runs out, and the next POST
        carries the next number.

        An attempt lost that way counts towards `max_attempts` but has no attempt row (its
        outcome was never known), so the recorded numbers skip it. A delivery found due with
        every attempt used up (the last one lost) is failed here without another POST."""
        now = self._clock.now()
        with self._uow_factory() as uow:
            while due := uow.webhooks.due(now, 1):
                delivery = due[0]
                if delivery.attempts >= self._policy.max_attempts:
                    delivery.state = WebhookState.FAILED
                    delivery.last_error = (
                        f"attempt {delivery.attempts}: no outcome recorded (dispatcher stopped)"
                    )
                    uow.webhooks.update(delivery)
                    continue
                delivery.attempts += 1
                delivery.next_attempt_at = now + timedelta(seconds=self._policy.claim_seconds)
                uow.webhooks.update(delivery)
                uow.commit()
                return delivery
            uow.commit()  # the deliveries failed above, if any
        return None

    def _attempt(self, delivery: WebhookDelivery) -> None:
        """One POST, a span of the job's trace (its `traceparent` goes with the request)."""
        parent = job_context(delivery.event.get("trace_id", ""), delivery.trace_parent)
        attributes = {"http.request.method": "POST", "stories.job_id": delivery.job_id}
        with tracer.start_as_current_span(
            "webhook POST", context=parent, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            self._post(delivery, span)

    def _post(self, delivery: WebhookDelivery, span: Span) -> None:
        body = body_of(delivery)
        started = self._clock.now()
        number = delivery.attempts  # counted by the claim
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: delivery.id,
            EVENT_HEADER: delivery.event["kind"],
            ATTEMPT_HEADER: str(number),
            TRACE_HEADER: delivery.event.get("trace_id", ""),
            SIGNATURE_HEADER: sign(self._policy.secret, int(started.timestamp()), body),
        }
        if span.is_recording():  # a receiver continues a trace that is exported
            propagate.inject(headers)
        status: int | None = None
        error: str | None = None
        retry = False
        try:
            status = self._sender.send(delivery.url, body, headers)
        except WebhookRefused as refused:
            error = refused.message
        except Exception as failure:  # no response at all: the network decides, so try again
            error, retry = f"{type(failure).__name__}: {failure}", True
        else:
            accepted = 200 <= status < 300
            error = None if accepted else f"HTTP {status}"
            retry = status >= 500 or status in RETRYABLE_STATUSES
        finished = self._clock.now()
        span.set_attribute("stories.webhook_attempt", number)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_status(StatusCode.ERROR, error)
        self._record(delivery, number, started, finished, status, error, retry)

    def _record(
        self,
        delivery: WebhookDelivery,
        number: int,
        started: datetime,
        finished: datetime,
        status: int | None,
        error: str | None,
        retry: bool,
    ) -> None:
        delivery.attempts, delivery.last_error = number, error
        if error is None:
            delivery.state = WebhookState.SUCCEEDED
        elif retry and number < self._policy.max_attempts:
            delay = backoff_seconds(number, self._policy, self._draw)
            delivery.next_attempt_at = finished + timedelta(seconds=delay)
        else:
            delivery.state = WebhookState.FAILED
        duration_ms = round((finished - started).total_seconds() * 1000)
        attempt = WebhookAttempt(delivery.id, number, started, duration_ms, status, error)
        with self._uow_factory() as uow:
            uow.webhooks.update(delivery)
            uow.webhooks.add_attempt(attempt)
            uow.commit()
