"""The WebhookRepository contract, for every adapter."""

from datetime import UTC, datetime, timedelta

from stories_core.model import WebhookAttempt, WebhookDelivery, WebhookState
from tests.contract.test_job_repository import job

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def delivery(n: int, job_id: str, due_in: float = 0.0) -> WebhookDelivery:
    return WebhookDelivery(
        id=f"00000000-0000-0000-0000-{n:012d}",
        job_id=job_id,
        url=f"https://hooks.example.test/{n}",
        event={"kind": "job.succeeded", "job_id": job_id, "nested": {"progress": 1.0}},
        created_at=T0,
        next_attempt_at=T0 + timedelta(seconds=due_in),
    )


def test_a_delivery_is_recorded_once_and_handed_out_when_due(uow_factory) -> None:
    owner = job(1)
    with uow_factory() as uow:
        uow.jobs.add(owner)
        uow.webhooks.add(delivery(1, owner.id, due_in=20))
        uow.webhooks.add(delivery(2, owner.id, due_in=10))
        uow.webhooks.add(delivery(3, owner.id, due_in=99))
        uow.commit()
    with uow_factory() as uow:
        again = delivery(1, owner.id, due_in=0)
        again.url = "https://changed.example.test/"
        uow.webhooks.add(again)  # the same event relayed twice
        uow.commit()
    with uow_factory() as uow:
        assert [d.id[-1] for d in uow.webhooks.due(T0 + timedelta(seconds=30), 10)] == ["2", "1"]
        assert [d.id[-1] for d in uow.webhooks.due(T0 + timedelta(seconds=30), 1)] == ["2"]
        assert uow.webhooks.due(T0, 10) == []
        [first] = [d for d in uow.webhooks.for_job(owner.id) if d.id.endswith("1")]
        assert first == delivery(1, owner.id, due_in=20), "the first record stands"


def test_updates_and_attempts_are_kept(uow_factory) -> None:
    owner = job(1)
    with uow_factory() as uow:
        uow.jobs.add(owner)
        uow.webhooks.add(delivery(1, owner.id))
        uow.commit()
    with uow_factory() as uow:
        [due] = uow.webhooks.due(T0, 10)
        due.attempts, due.last_error = 1, "HTTP 500"
        due.next_attempt_at = T0 + timedelta(minutes=1)
        uow.webhooks.update(due)
        uow.webhooks.add_attempt(WebhookAttempt(due.id, 1, T0, 120, 500, "HTTP 500"))
        uow.commit()
    with uow_factory() as uow:
        due.state, due.attempts, due.last_error = WebhookState.SUCCEEDED, 2, None
        uow.webhooks.update(due)
        uow.webhooks.add_attempt(WebhookAttempt(due.id, 2, T0 + timedelta(minutes=1), 8, 204))
        uow.commit()
    with uow_factory() as uow:
        assert uow.webhooks.due(T0 + timedelta(days=1), 10) == [], "succeeded: never due"
        assert uow.webhooks.for_job(owner.id) == [due]
        assert [(a.number, a.status_code, a.error) for a in uow.webhooks.attempts(due.id)] == [
            (1, 500, "HTTP 500"),
            (2, 204, None),
        ]
        assert uow.webhooks.attempts(due.id)[0] == WebhookAttempt(
            due.id, 1, T0, 120, 500, "HTTP 500"
        )


def test_nothing_is_kept_without_commit(uow_factory) -> None:
    owner = job(1)
    with uow_factory() as uow:
        uow.jobs.add(owner)
        uow.commit()
    with uow_factory() as uow:
        uow.webhooks.add(delivery(1, owner.id))
    with uow_factory() as uow:
        assert uow.webhooks.for_job(owner.id) == []
