"""Every error the API returns that test_service.py leaves out: the exact status code, a
message naming the field, and google.rpc details with an ErrorInfo on every one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from dependency_injector import providers
from google.protobuf import message as protobuf_message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from stories.v1 import common_pb2, stories_pb2
from stories_adapters.sql.engine import make_engine
from tests.api.conftest import Api, start_api

STREAMING = frozenset({"WatchJob", "ReadAsset"})
DOMAIN = "stories.v1"
DETAIL_KINDS = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.QuotaFailure,
    error_details_pb2.RetryInfo,
)


def call(api: Api, method: str, request: protobuf_message.Message, metadata=None):
    """One call; a streaming call is read to its end, which is where its error surfaces."""
    rpc = getattr(api.stub, method)
    metadata = api.auth(api.acme) if metadata is None else metadata
    if method in STREAMING:
        return list(rpc(request, metadata=metadata, timeout=30))
    return rpc(request, metadata=metadata, timeout=30)


def refused(api: Api, method: str, request: protobuf_message.Message, metadata=None):
    with pytest.raises(grpc.RpcError) as raised:
        call(api, method, request, metadata)
    return raised.value


def details(error: grpc.RpcError) -> dict[str, protobuf_message.Message]:
    """The error's google.rpc details by type name; an ErrorInfo is required on every one."""
    status = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} carries no google.rpc.Status details"
    assert status.code == error.code().value[0] and status.message == error.details()
    found: dict[str, protobuf_message.Message] = {}
    for detail in status.details:
        for kind in DETAIL_KINDS:
            if detail.Is(kind.DESCRIPTOR):
                unpacked = kind()
                detail.Unpack(unpacked)
                found[kind.DESCRIPTOR.name] = unpacked
    info = found.get("ErrorInfo")
    assert info is not None, f"{error.code()} {error.details()!r} has no ErrorInfo"
    assert info.domain == DOMAIN and info.reason
    return found


def assert_invalid_field(
    error: grpc.RpcError, field: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT
) -> None:
    assert error.code() == code
    assert error.details().startswith(f"{field}: ")
    found = details(error)
    assert found["ErrorInfo"].metadata["field"] == field
    [violation] = found["BadRequest"].field_violations
    assert violation.field == field and violation.description


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, stories_pb2.Job]]:
    """One server for the module, with one of acme's jobs finished (so it has assets)."""
    with start_api(tmp_path_factory.mktemp("finished")) as api:
        job = api.create()
        api.wait(job.id)
        yield api, api.get(job.id)


def first_asset(job: stories_pb2.Job) -> common_pb2.Asset:
    return next(a for s in job.segments for a in s.assets)


@pytest.mark.parametrize(
    ("method", "request_type", "field"),
    [
        ("GetJob", stories_pb2.GetJobRequest, "job_id"),
        ("CancelJob", stories_pb2.CancelJobRequest, "job_id"),
        ("RetryJob", stories_pb2.RetryJobRequest, "job_id"),
        ("WatchJob", stories_pb2.WatchJobRequest, "job_id"),
        ("GetAsset", stories_pb2.GetAssetRequest, "asset_id"),
        ("ReadAsset", stories_pb2.ReadAssetRequest, "asset_id"),
    ],
)
def test_a_missing_id_is_invalid_argument_naming_the_field(
    idle_api: Api, method: str, request_type: type, field: str
) -> None:
    error = refused(idle_api, method, request_type())
    assert_invalid_field(error, field)
    assert error.details() == f"{field}: is required"
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"


def test_a_negative_read_offset_is_invalid_argument(finished) -> None:
    api, job = finished
    request = stories_pb2.ReadAssetRequest(asset_id=first_asset(job).id, offset=-1)
    error = refused(api, "ReadAsset", request)
    assert_invalid_field(error, "offset")
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"


def test_a_read_offset_past_the_end_is_out_of_range_naming_the_field(finished) -> None:
    api, job = finished
    asset = first_asset(job)
    request = stories_pb2.ReadAssetRequest(asset_id=asset.id, offset=asset.size_bytes + 1)
    error = refused(api, "ReadAsset", request)
    assert_invalid_field(error, "offset", grpc.StatusCode.OUT_OF_RANGE)
    assert str(asset.size_bytes) in error.details()
    assert details(error)["ErrorInfo"].reason == "OUT_OF_RANGE"
    at_the_end = stories_pb2.ReadAssetRequest(asset_id=asset.id, offset=asset.size_bytes)
    assert b"".join(c.data for c in call(api, "ReadAsset", at_the_end)) == b""


@pytest.mark.parametrize(
    "states",
    [
        [common_pb2.JOB_STATE_UNSPECIFIED],
        [common_pb2.JOB_STATE_QUEUED, common_pb2.JOB_STATE_UNSPECIFIED],
        [common_pb2.JOB_STATE_QUEUED, 99],
    ],
    ids=["unspecified", "unspecified-among-known", "unknown-number"],
)
def test_list_jobs_refuses_a_state_it_does_not_know(idle_api: Api, states: list[int]) -> None:
    error = refused(idle_api, "ListJobs", stories_pb2.ListJobsRequest(states=states))
    assert_invalid_field(error, "states")
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"


def test_list_jobs_refuses_a_negative_page_size(idle_api: Api) -> None:
    error = refused(idle_api, "ListJobs", stories_pb2.ListJobsRequest(page_size=-1))
    assert_invalid_field(error, "page_size")
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"


def test_a_page_size_over_the_maximum_is_capped_not_refused(idle_api: Api) -> None:
    created = idle_api.create()
    listed = call(idle_api, "ListJobs", stories_pb2.ListJobsRequest(page_size=2**31 - 1))
    assert [j.id for j in listed.jobs] == [created.id] and not listed.next_page_token


def _wrong_keys(api: Api) -> dict[str, tuple[tuple[str, str], ...]]:
    forged = api.acme[:-4] + ("AAAA" if not api.acme.endswith("AAAA") else "BBBB")
    return {
        "no key": (),
        "unknown key": api.auth("sk_bogus_key"),
        "known id, wrong secret": api.auth(forged),
        "not a bearer token": (("authorization", f"Basic {api.acme}"),),
    }


@pytest.mark.parametrize("method", sorted(STREAMING))
def test_streams_refuse_a_missing_or_wrong_key_as_unary_calls_do(finished, method: str) -> None:
    api, job = finished
    requests = {
        "WatchJob": stories_pb2.WatchJobRequest(job_id=job.id),
        "ReadAsset": stories_pb2.ReadAssetRequest(asset_id=first_asset(job).id),
    }
    unary = stories_pb2.GetJobRequest(job_id=job.id)
    for label, metadata in _wrong_keys(api).items():
        expected = refused(api, "GetJob", unary, metadata)
        error = refused(api, method, requests[method], metadata)
        assert error.code() == expected.code() == grpc.StatusCode.UNAUTHENTICATED, label
        assert error.details() == expected.details(), label
        assert details(error)["ErrorInfo"].reason == "UNAUTHENTICATED", label
        assert details(expected)["ErrorInfo"].reason == "UNAUTHENTICATED", label
    # Authentication comes before the lookup: a missing id still reads as unauthenticated.
    missing = {
        "WatchJob": stories_pb2.WatchJobRequest(job_id="no-such-job"),
        "ReadAsset": stories_pb2.ReadAssetRequest(asset_id="no-such-asset"),
    }
    error = refused(api, method, missing[method], ())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("method", "request_type", "field"),
    [
        ("WatchJob", stories_pb2.WatchJobRequest, "job_id"),
        ("CancelJob", stories_pb2.CancelJobRequest, "job_id"),
        ("RetryJob", stories_pb2.RetryJobRequest, "job_id"),
        ("GetJob", stories_pb2.GetJobRequest, "job_id"),
        ("ReadAsset", stories_pb2.ReadAssetRequest, "asset_id"),
        ("GetAsset", stories_pb2.GetAssetRequest, "asset_id"),
    ],
)
def test_another_tenants_job_or_asset_is_not_found_exactly_like_a_missing_one(
    finished, method: str, request_type: type, field: str
) -> None:
    api, job = finished
    theirs = job.id if field == "job_id" else first_asset(job).id
    seen = []
    for target in (theirs, f"no-such-{field}"):
        error = refused(api, method, request_type(**{field: target}), api.auth(api.globex))
        found = details(error)
        assert set(found) == {"ErrorInfo"}
        seen.append(
            (
                error.code(),
                error.details().replace(target, "ID"),
                found["ErrorInfo"].reason,
                dict(found["ErrorInfo"].metadata),
            )
        )
    assert seen[0] == seen[1]
    assert seen[0][:3] == (
        grpc.StatusCode.NOT_FOUND,
        f"{field.removesuffix('_id')} ID not found",
        "NOT_FOUND",
    )
    assert api.get(job.id).state == common_pb2.JOB_STATE_SUCCEEDED, "the owner's job is untouched"


def _list_everything(api: Api, key: str) -> stories_pb2.ListJobsResponse:
    request = stories_pb2.ListJobsRequest(view=stories_pb2.JOB_VIEW_FULL)
    return api.stub.ListJobs(request, metadata=api.auth(key))


@pytest.mark.parametrize(
    ("fields", "metadata", "field"),
    [
        ({"pictures": 0, "request_id": "fresh"}, (), "pictures"),
        ({"text": "x" * 50_001, "request_id": "fresh"}, (), "text"),
        ({"request_id": "fresh"}, (("x-trace-id", "not a trace id!"),), "x-trace-id"),
        ({"request_id": "kept", "text": "Another story."}, (), "request_id"),
    ],
    ids=["bad-pictures", "too-long", "bad-trace-id", "request-id-reused"],
)
def test_a_rejected_create_changes_nothing(
    idle_api: Api, fields: dict[str, object], metadata: tuple, field: str
) -> None:
    kept = idle_api.create(request_id="kept")
    idle_api.create(key=idle_api.globex, request_id="kept")
    before = {key: _list_everything(idle_api, key) for key in (idle_api.acme, idle_api.globex)}
    values = {"text": "One. Two. Three.", "content_type": "educational", "pictures": 2} | fields
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.stub.CreateJob(
            stories_pb2.CreateJobRequest(**values),
            metadata=idle_api.auth(idle_api.acme) + metadata,
        )
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}: ")
    found = details(error)
    assert found["BadRequest"].field_violations[0].field == field
    after = {key: _list_everything(idle_api, key) for key in (idle_api.acme, idle_api.globex)}
    assert after == before
    assert [j.id for j in after[idle_api.acme].jobs] == [kept.id]
    # The refused request reserved nothing: its request_id is still free.
    if fields["request_id"] == "fresh":
        made = idle_api.create(request_id="fresh")
        assert made.id != kept.id


@pytest.fixture
def probed_api(tmp_path: Path) -> Iterator[Api]:
    """No worker; the database probed every 0.1 s."""
    with start_api(tmp_path, with_worker=False, health_probe_seconds=0.1) as running:
        yield running


def health(api: Api) -> int:
    stub = health_pb2_grpc.HealthStub(api.channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


def test_an_unreachable_database_is_unavailable_with_retry_info_never_internal(
    probed_api: Api,
) -> None:
    """Every call that needs the database says UNAVAILABLE (DATABASE_UNAVAILABLE) with a
    RetryInfo while it is down, in our words, and health says NOT_SERVING; once it is back,
    SERVING again, and the client's retry of its create makes the job."""
    idle_api = probed_api
    job = idle_api.create()
    closed = make_engine("postgresql+psycopg://stories@127.0.0.1:1/stories", pool_size=1)
    idle_api.application.persistence.engine.override(providers.Object(closed))
    try:
        for method, request in [
            ("CreateJob", stories_pb2.CreateJobRequest(
                text="One. Two.", content_type="educational", pictures=1, request_id="r-1"
            )),
            ("GetJob", stories_pb2.GetJobRequest(job_id=job.id)),
            ("ListJobs", stories_pb2.ListJobsRequest()),
        ]:  # fmt: skip
            error = refused(idle_api, method, request)
            assert error.code() == grpc.StatusCode.UNAVAILABLE, (method, error.details())
            found = details(error)
            assert found["ErrorInfo"].reason == "DATABASE_UNAVAILABLE"
            assert found["RetryInfo"].retry_delay.ToMilliseconds() > 0
            pushback = dict(error.trailing_metadata())["grpc-retry-pushback-ms"]
            assert int(pushback) == found["RetryInfo"].retry_delay.ToMilliseconds()
            assert "127.0.0.1" not in error.details() and "psycopg" not in error.details()
        assert eventually(lambda: health(idle_api) == health_pb2.HealthCheckResponse.NOT_SERVING)
    finally:
        idle_api.application.persistence.engine.reset_override()
        closed.dispose()
    assert eventually(lambda: health(idle_api) == health_pb2.HealthCheckResponse.SERVING)
    again = idle_api.create(request_id="r-1", text="One. Two.", pictures=1)
    assert again.id and idle_api.get(job.id).id == job.id


def eventually(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("GetJob", stories_pb2.GetJobRequest(job_id="any", view=99)),
        ("ListJobs", stories_pb2.ListJobsRequest(view=99)),
        ("ListJobs", stories_pb2.ListJobsRequest(view=-1)),
    ],
    ids=["get-99", "list-99", "list-negative"],
)
def test_an_unknown_view_is_refused_like_every_other_enum(
    idle_api: Api, method: str, request_: protobuf_message.Message
) -> None:
    error = refused(idle_api, method, request_)
    assert_invalid_field(error, "view")
    assert "JOB_VIEW_BASIC, JOB_VIEW_FULL" in error.details()
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_auth_scheme_is_case_insensitive(idle_api: Api, scheme: str) -> None:
    metadata = (("authorization", f"{scheme} {idle_api.acme}"),)
    assert call(idle_api, "ListJobs", stories_pb2.ListJobsRequest(), metadata).jobs is not None
    error = refused(idle_api, "ListJobs", stories_pb2.ListJobsRequest(), ((
        "authorization", f"{scheme}",
    ),))  # fmt: skip
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_every_wrong_field_of_a_create_is_named_at_once_and_nothing_is_recorded(
    idle_api: Api,
) -> None:
    request = stories_pb2.CreateJobRequest(
        text="",
        content_type="poetry",
        pictures=0,
        audio_type=99,
        backend="nope",
        request_id="r" * 129,
        language="not a language tag!",
        webhook_url="ftp://example.com/hook",
    )
    metadata = (*idle_api.auth(idle_api.acme), ("x-trace-id", "bad id!"))
    error = refused(idle_api, "CreateJob", request, metadata)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = details(error)
    violations = [(v.field, v.description) for v in found["BadRequest"].field_violations]
    fields = [field for field, _ in violations]
    assert fields == [
        "x-trace-id", "audio_type", "text", "pictures", "content_type", "backend",
        "webhook_url", "request_id", "language",
    ]  # fmt: skip
    for field, description in violations:
        assert description and not description.startswith(field), (field, description)
        assert f"{field}: {description}" in error.details()
    assert "AUDIO_TYPE_FREE_SPEECH" in dict(violations)["audio_type"]
    assert found["ErrorInfo"].metadata["fields"] == ",".join(fields)
    assert found["ErrorInfo"].metadata["field"] == "x-trace-id"
    listed = call(idle_api, "ListJobs", stories_pb2.ListJobsRequest())
    assert not listed.jobs, "nothing recorded"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:5432/hook", "a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link_local address"),
        ("https://10.1.2.3/hook", "a private address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://[::ffff:192.168.0.1]/hook", "a private address"),
        ("https://example.com/" + "x" * 2100, "has 2,120 characters; the limit is 2,048"),
        ("https://example.com:99999/hook", "must be an absolute http or https URL"),
        ("file:///etc/passwd", "must be an absolute http or https URL"),
    ],
)
def test_a_webhook_url_webhooks_may_not_call_is_refused_when_the_job_is_created(
    tmp_path: Path, url: str, said: str
) -> None:
    with start_api(tmp_path, with_worker=False, webhook_secret="s3cret") as api:
        error = refused(api, "CreateJob", stories_pb2.CreateJobRequest(
            text="One. Two.", content_type="educational", pictures=1, webhook_url=url,
        ))  # fmt: skip
        assert_invalid_field(error, "webhook_url")
        assert said in error.details()
        assert not call(api, "ListJobs", stories_pb2.ListJobsRequest()).jobs, "nothing recorded"


def test_a_public_webhook_address_or_an_allowed_internal_one_is_taken(tmp_path: Path) -> None:
    settings = {"webhook_secret": "s3cret", "webhook_allow_private": "loopback"}
    with start_api(tmp_path, with_worker=False, **settings) as api:
        for url in ("https://93.184.215.14/hook", "http://127.0.0.1:9/hook"):
            job = api.create(webhook_url=url)
            assert job.webhook_url == url
        error = refused(api, "CreateJob", stories_pb2.CreateJobRequest(
            text="One.", content_type="educational", pictures=1,
            webhook_url="http://10.0.0.1/hook",
        ))  # fmt: skip
        assert "a private address" in error.details(), "only the kinds allowed"


NOT_UTF8 = b"\x0a\x03\xff\xfe\xfd"  # field 1 (an id, a string) holding bytes that are not UTF-8


@pytest.mark.parametrize("method", ["GetJob", "CancelJob", "WatchJob", "ReadAsset", "CreateJob"])
def test_bytes_that_are_not_utf8_are_invalid_argument_with_details(
    idle_api: Api, method: str
) -> None:
    path = f"/stories.v1.StoryService/{method}"
    if method in STREAMING:
        rpc = idle_api.channel.unary_stream(path)
        call_it = lambda: list(rpc(NOT_UTF8, metadata=idle_api.auth(idle_api.acme)))  # noqa: E731
    else:
        rpc = idle_api.channel.unary_unary(path)
        call_it = lambda: rpc(NOT_UTF8, metadata=idle_api.auth(idle_api.acme))  # noqa: E731
    with pytest.raises(grpc.RpcError) as raised:
        call_it()
    assert_invalid_field(raised.value, "request")
    assert f"stories.v1.{method}Request" in raised.value.details()


def test_an_oversized_message_or_metadata_is_resource_exhausted_with_details(
    idle_api: Api,
) -> None:
    huge = stories_pb2.CreateJobRequest(text="x" * 5_000_000, content_type="educational")
    error = refused(idle_api, "CreateJob", huge)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = details(error)["ErrorInfo"]
    assert info.reason == "REQUEST_TOO_LARGE" and int(info.metadata["size_bytes"]) > 5_000_000
    assert int(info.metadata["limit_bytes"]) < int(info.metadata["size_bytes"])

    metadata = (*idle_api.auth(idle_api.acme), ("x-padding", "y" * 20_000))
    error = refused(idle_api, "ListJobs", stories_pb2.ListJobsRequest(), metadata)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details(error)["ErrorInfo"].reason == "REQUEST_TOO_LARGE"


def test_an_oversized_value_is_never_echoed_into_an_error(idle_api: Api) -> None:
    error = refused(idle_api, "GetJob", stories_pb2.GetJobRequest(job_id="x" * 200_000))
    assert_invalid_field(error, "job_id")
    assert "200,000 characters" in error.details() and len(error.details()) < 200
    request = stories_pb2.CreateJobRequest(
        text="One.", content_type="c" * 1_000_000, pictures=1, backend="b" * 100_000
    )
    error = refused(idle_api, "CreateJob", request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.details()) < 1_000
    assert "1,000,000 characters" in error.details() and "100,000 characters" in error.details()
