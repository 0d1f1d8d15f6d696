import pytest

from stories_core.errors import NotFound, QuotaExceeded, Unauthenticated
from stories_core.services.access import (
    UNAUTHENTICATED_MESSAGE,
    Authenticator,
    IssueKey,
    QuotaPolicy,
    RevokeKey,
)
from stories_core.services.submit import Limits, SubmitJob
from tests.fakes import FixedLanguage
from tests.unit.conftest import World


def test_an_issued_key_authenticates_to_its_tenant_and_only_its_hash_is_stored(
    world: World,
) -> None:
    key, secret = IssueKey(world.database, world.clock)("acme")
    assert Authenticator(world.database)(secret).tenant == "acme"
    stored = world.database.tables.keys[key.id]
    assert secret not in repr(stored) and stored.key_hash != secret


@pytest.mark.parametrize("presented", [None, "", "sk_nope_nope", "Bearer x", "sk_a_b_c"])
def test_missing_or_unknown_keys_get_one_message(world: World, presented) -> None:
    IssueKey(world.database, world.clock)("acme")
    with pytest.raises(Unauthenticated) as raised:
        Authenticator(world.database)(presented)
    assert raised.value.message == UNAUTHENTICATED_MESSAGE


def test_a_tampered_or_revoked_key_is_refused_alike(world: World) -> None:
    key, secret = IssueKey(world.database, world.clock)("acme")
    with pytest.raises(Unauthenticated) as tampered:
        Authenticator(world.database)(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    RevokeKey(world.database, world.clock)(key.id)
    with pytest.raises(Unauthenticated) as revoked:
        Authenticator(world.database)(secret)
    assert tampered.value.message == revoked.value.message == UNAUTHENTICATED_MESSAGE


def test_a_key_can_be_revoked_by_itself_and_errors_never_repeat_a_secret(world: World) -> None:
    key, secret = IssueKey(world.database, world.clock)("acme")
    assert RevokeKey(world.database, world.clock)(secret).id == key.id
    with pytest.raises(Unauthenticated):
        Authenticator(world.database)(secret)
    unknown = "sk_0123456789abcdef_" + "s3cret" * 7
    with pytest.raises(NotFound) as raised:
        RevokeKey(world.database, world.clock)(unknown)
    assert "s3cret" not in raised.value.message and "0123456789abcdef" in raised.value.message


def test_quota_counts_characters_per_key_and_refusal_changes_nothing(world: World) -> None:
    submit = SubmitJob(
        world.database,
        world.catalog,
        world.clock,
        Limits(),
        FixedLanguage(),
        QuotaPolicy(chars_per_period=25, period_seconds=3600),
    )
    submit(world.request("x" * 20), api_key_id="k1")
    with pytest.raises(QuotaExceeded) as raised:
        submit(world.request("y" * 10), api_key_id="k1")
    assert raised.value.subject == "api_key:k1"
    assert 0 < raised.value.retry_after_seconds <= 3600
    assert len(world.database.jobs) == 1
    submit(world.request("z" * 20), api_key_id="k2")
    world.clock.advance(3600)
    submit(world.request("y" * 10), api_key_id="k1")
    assert len(world.database.jobs) == 3


def test_a_request_larger_than_a_whole_period_says_it_can_never_fit(world: World) -> None:
    submit = SubmitJob(
        world.database,
        world.catalog,
        world.clock,
        Limits(),
        FixedLanguage(),
        QuotaPolicy(chars_per_period=25, period_seconds=3600),
    )
    with pytest.raises(QuotaExceeded) as raised:
        submit(world.request("x" * 26), api_key_id="k1")
    assert raised.value.retry_after_seconds is None
    assert "can never fit" in raised.value.message and "26 characters" in raised.value.message
    assert len(world.database.jobs) == 0
    submit(world.request("x" * 25), api_key_id="k1")  # the whole allowance still fits


@pytest.mark.parametrize("rate", [3.0, 7.0, 0.3, 1000.0])
def test_a_client_that_waits_the_retry_delay_is_admitted_at_its_next_try(rate: float) -> None:
    from stories_adapters.grpc.errors import RateLimited, to_status
    from stories_adapters.grpc.gate import TokenBuckets

    now = [100.0]
    buckets = TokenBuckets(rate=rate, burst=1, clock=lambda: now[0])
    buckets.take("k")
    for _ in range(20):
        with pytest.raises(RateLimited) as refused:
            buckets.take("k")
        details = rpc_details(to_status(refused.value))
        now[0] += details.retry_delay.ToMilliseconds() / 1000  # exactly as told
        buckets.take("k")  # admitted at the next try


def rpc_details(status):
    from google.rpc import error_details_pb2, status_pb2

    [(_, raw)] = [m for m in status.trailing_metadata if m[0] == "grpc-status-details-bin"]
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no RetryInfo")
