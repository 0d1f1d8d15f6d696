"""Every StoryService method and every error, against the service in process."""

import asyncio
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from stories.v1 import common_pb2, events_pb2, stories_pb2, stories_pb2_grpc
from stories_core import markup
from stories_core.services.access import IssueKey, RevokeKey
from tests.api.conftest import Api, start_api

TEXT = (Path(__file__).parents[2] / "examples" / "solar-system.txt").read_text()


def details(error: grpc.RpcError) -> dict[str, object]:
    """The google.rpc details of a failed call, by type name."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries google.rpc.Status details"
    found = {}
    for detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
            error_details_pb2.RetryInfo,
            error_details_pb2.PreconditionFailure,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
    return found


def test_create_watch_get_and_read_a_story(api: Api) -> None:
    job = api.create(text=TEXT, pictures=3, request_id="r-1")
    assert job.state == common_pb2.JOB_STATE_QUEUED and job.text_length == len(TEXT)
    events = api.wait(job.id)
    kinds = [e.event.kind for e in events]
    assert kinds[-1] == events_pb2.JOB_EVENT_KIND_SUCCEEDED
    assert kinds.count(events_pb2.JOB_EVENT_KIND_SEGMENT_DONE) == 3
    assert events[-1].event.progress == 1.0 and events[-1].event.trace_id == job.trace_id

    done = api.get(job.id)
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED and len(done.segments) == 3
    assert markup.parse(done.markup).segments[0].segment_id == done.segments[0].id
    image = next(a for a in done.segments[0].assets if a.kind == common_pb2.ASSET_KIND_IMAGE)
    assert image.metadata["width"] == 1024

    chunks = list(
        api.stub.ReadAsset(
            stories_pb2.ReadAssetRequest(asset_id=image.id), metadata=api.auth(api.acme)
        )
    )
    data = b"".join(c.data for c in chunks)
    assert len(data) == image.size_bytes and data.startswith(b"\x89PNG")
    assert "sha256:" + hashlib.sha256(data).hexdigest() == image.checksum
    resumed = api.stub.ReadAsset(
        stories_pb2.ReadAssetRequest(asset_id=image.id, offset=100), metadata=api.auth(api.acme)
    )
    first = next(iter(resumed))
    assert first.offset == 100 and first.data == data[100 : 100 + len(first.data)]

    asset = api.stub.GetAsset(
        stories_pb2.GetAssetRequest(asset_id=image.id), metadata=api.auth(api.acme)
    ).asset
    assert asset.checksum == image.checksum
    # Embedded, the bytes sit on the server's disk: no URL (never a file:// path), ReadAsset.
    assert asset.download_uri == "" and not asset.HasField("download_expire_time")

    reopened = api.wait(job.id)
    assert [e.event.kind for e in reopened] == [events_pb2.JOB_EVENT_KIND_SUCCEEDED]


def test_the_same_request_id_gives_the_same_job_and_a_different_request_is_refused(
    idle_api: Api,
) -> None:
    first = idle_api.create(request_id="abc")
    again = idle_api.create(request_id="abc")
    assert again.id == first.id
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.create(request_id="abc", text="Something else entirely.")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = details(raised.value)
    assert found["ErrorInfo"].reason == "REQUEST_ID_REUSED"
    assert found["BadRequest"].field_violations[0].field == "request_id"
    listed = idle_api.stub.ListJobs(
        stories_pb2.ListJobsRequest(), metadata=idle_api.auth(idle_api.acme)
    )
    assert [j.id for j in listed.jobs] == [first.id]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "  "}, "text"),
        ({"text": "nul \x00 inside"}, "text"),
        ({"text": "x" * 50_001}, "text"),
        ({"pictures": 0}, "pictures"),
        ({"pictures": 21}, "pictures"),
        ({"content_type": "poetry"}, "content_type"),
        ({"audio_type": 99}, "audio_type"),
        ({"backend": "nope"}, "backend"),
        ({"webhook_url": "ftp://example.test"}, "webhook_url"),
        ({"request_id": "r" * 129}, "request_id"),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field_and_changes_nothing(
    idle_api: Api, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.create(**fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"{field}: ")
    [violation] = details(raised.value)["BadRequest"].field_violations
    assert violation.field == field
    listed = idle_api.stub.ListJobs(
        stories_pb2.ListJobsRequest(), metadata=idle_api.auth(idle_api.acme)
    )
    assert list(listed.jobs) == []


def test_missing_unknown_and_revoked_keys_are_unauthenticated_alike(idle_api: Api) -> None:
    messages = set()
    revoked_record, revoked = idle_api.acme_record, idle_api.acme
    job = idle_api.create()
    uow_factory = idle_api.application.persistence.unit_of_work_factory()
    RevokeKey(uow_factory, idle_api.application.core.clock())(revoked_record.id)
    for metadata in [(), (("authorization", "Bearer sk_bogus_key"),), idle_api.auth(revoked)]:
        with pytest.raises(grpc.RpcError) as raised:
            idle_api.stub.GetJob(stories_pb2.GetJobRequest(job_id=job.id), metadata=metadata)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        messages.add(raised.value.details())
    assert len(messages) == 1


def test_another_tenants_job_and_asset_are_not_found_like_missing_ones(api: Api) -> None:
    job = api.create()
    api.wait(job.id)
    asset_id = api.get(job.id).segments[0].assets[0].id
    errors = []
    for job_id in (job.id, "no-such-job"):
        with pytest.raises(grpc.RpcError) as raised:
            api.get(job_id, key=api.globex)
        errors.append((raised.value.code(), raised.value.details().replace(job_id, "ID")))
    assert errors[0] == errors[1] and errors[0][0] == grpc.StatusCode.NOT_FOUND
    for call, request in [
        (api.stub.GetAsset, stories_pb2.GetAssetRequest(asset_id=asset_id)),
        (api.stub.CancelJob, stories_pb2.CancelJobRequest(job_id=job.id)),
        (api.stub.RetryJob, stories_pb2.RetryJobRequest(job_id=job.id)),
    ]:
        with pytest.raises(grpc.RpcError) as raised:
            call(request, metadata=api.auth(api.globex))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    for call, request in [
        (api.stub.ReadAsset, stories_pb2.ReadAssetRequest(asset_id=asset_id)),
        (api.stub.WatchJob, stories_pb2.WatchJobRequest(job_id=job.id)),
    ]:
        with pytest.raises(grpc.RpcError) as raised:
            list(call(request, metadata=api.auth(api.globex)))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    listed = api.stub.ListJobs(stories_pb2.ListJobsRequest(), metadata=api.auth(api.globex))
    assert list(listed.jobs) == []


def test_list_pages_through_jobs_and_filters_by_state(idle_api: Api) -> None:
    created = [idle_api.create(text=f"Story number {n}.") for n in range(5)]
    idle_api.stub.CancelJob(
        stories_pb2.CancelJobRequest(job_id=created[1].id), metadata=idle_api.auth(idle_api.acme)
    )
    seen, token, token0 = [], "", ""
    while True:
        page = idle_api.stub.ListJobs(
            stories_pb2.ListJobsRequest(page_size=2, page_token=token),
            metadata=idle_api.auth(idle_api.acme),
        )
        assert len(page.jobs) <= 2 and all(not j.segments for j in page.jobs)
        seen += [j.id for j in page.jobs]
        token = page.next_page_token
        token0 = token0 or token
        if not token:
            break
    assert seen == [j.id for j in reversed(created)]
    cancelled = idle_api.stub.ListJobs(
        stories_pb2.ListJobsRequest(states=[common_pb2.JOB_STATE_CANCELLED]),
        metadata=idle_api.auth(idle_api.acme),
    )
    assert [j.id for j in cancelled.jobs] == [created[1].id]
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.stub.ListJobs(
            stories_pb2.ListJobsRequest(page_token="forged"), metadata=idle_api.auth(idle_api.acme)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(raised.value)["BadRequest"].field_violations[0].field == "page_token"
    with pytest.raises(grpc.RpcError) as raised:  # a token belongs to its filter
        idle_api.stub.ListJobs(
            stories_pb2.ListJobsRequest(states=[common_pb2.JOB_STATE_QUEUED], page_token=token0),
            metadata=idle_api.auth(idle_api.acme),
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "different filter" in raised.value.details()
    with pytest.raises(grpc.RpcError) as raised:  # ... and to its tenant
        idle_api.stub.ListJobs(
            stories_pb2.ListJobsRequest(page_token=token0), metadata=idle_api.auth(idle_api.globex)
        )
    assert "another API key's tenant" in raised.value.details()
    payload, signature = token0.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for altered in (f"{tampered}.{signature}", payload, f"{payload}.{signature[::-1]}"):
        with pytest.raises(grpc.RpcError) as raised:
            idle_api.stub.ListJobs(
                stories_pb2.ListJobsRequest(page_token=altered),
                metadata=idle_api.auth(idle_api.acme),
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "is not a token this service issued" in raised.value.details(), altered


def test_a_webhook_url_is_refused_by_a_server_that_could_not_deliver_it(idle_api: Api) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.create(webhook_url="https://example.test/hook")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details().startswith("webhook_url: webhooks are not enabled")
    [violation] = details(raised.value)["PreconditionFailure"].violations
    assert violation.subject == "webhook_url"
    assert details(raised.value)["ErrorInfo"].reason == "NOT_ENABLED"
    listed = idle_api.stub.ListJobs(
        stories_pb2.ListJobsRequest(), metadata=idle_api.auth(idle_api.acme)
    )
    assert list(listed.jobs) == [], "nothing was recorded"


def test_a_page_of_full_jobs_ends_early_rather_than_outgrow_a_message(tmp_path) -> None:
    text = " ".join(f"Sentence number {n} says a little more." for n in range(700))
    with start_api(tmp_path, grpc_max_message_bytes=192 * 1024) as api:
        created = [api.create(text=text, backend="flaky") for _ in range(4)]
        for job in created:
            api.wait(job.id)
        seen, token, pages = [], "", 0
        while True:
            page = api.stub.ListJobs(
                stories_pb2.ListJobsRequest(
                    page_size=10, page_token=token, view=stories_pb2.JOB_VIEW_FULL
                ),
                metadata=api.auth(api.acme),
            )
            assert page.ByteSize() <= 192 * 1024
            assert all(job.segments and job.markup for job in page.jobs)
            seen += [job.id for job in page.jobs]
            pages += 1
            if not (token := page.next_page_token):
                break
    assert seen == [job.id for job in reversed(created)]
    assert pages > 1, "four full jobs do not fit in one response"


def test_cancel_a_queued_job_twice_but_not_a_finished_one(api: Api, idle_api: Api) -> None:
    queued = idle_api.create()
    request = stories_pb2.CancelJobRequest(job_id=queued.id)
    for _ in range(2):
        job = idle_api.stub.CancelJob(request, metadata=idle_api.auth(idle_api.acme)).job
        assert job.state == common_pb2.JOB_STATE_CANCELLED
    finished = api.create()
    api.wait(finished.id)
    with pytest.raises(grpc.RpcError) as raised:
        api.stub.CancelJob(
            stories_pb2.CancelJobRequest(job_id=finished.id), metadata=api.auth(api.acme)
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(raised.value)
    assert dict(found["ErrorInfo"].metadata) == {"job_id": finished.id, "state": "succeeded"}
    assert found["ErrorInfo"].reason == "ILLEGAL_STATE"
    [violation] = found["PreconditionFailure"].violations
    assert (violation.type, violation.subject) == ("ILLEGAL_STATE", f"jobs/{finished.id}")
    assert "succeeded" in violation.description


def test_retry_a_failed_job_keeps_finished_segments(api: Api) -> None:
    api.flaky.failing.set()
    job = api.create(text=TEXT, pictures=3, backend="flaky")
    events = api.wait(job.id)
    failed = events[-1].event
    assert failed.kind == events_pb2.JOB_EVENT_KIND_FAILED
    assert failed.error.code == "BACKEND_UNAVAILABLE" and failed.error.retryable
    first_try = api.get(job.id)
    assert first_try.error.retryable
    kept = {s.id: s.assets[0].checksum for s in first_try.segments if s.assets}
    assert list(kept) == [first_try.segments[0].id]

    api.flaky.failing.clear()
    draws_before = next(api.flaky.draws)
    retried = api.stub.RetryJob(
        stories_pb2.RetryJobRequest(job_id=job.id), metadata=api.auth(api.acme)
    )
    assert retried.job.state == common_pb2.JOB_STATE_QUEUED
    assert api.wait(job.id)[-1].event.kind == events_pb2.JOB_EVENT_KIND_SUCCEEDED
    assert next(api.flaky.draws) - draws_before - 1 == 2, "only the two unfinished segments"
    done = api.get(job.id)
    assert done.attempt == 2 and not done.HasField("error")
    assert {s.id: s.assets[0].checksum for s in done.segments if s.id in kept} == kept
    with pytest.raises(grpc.RpcError) as raised:
        api.stub.RetryJob(stories_pb2.RetryJobRequest(job_id=job.id), metadata=api.auth(api.acme))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_read_asset_past_its_end_is_out_of_range(api: Api) -> None:
    job = api.create()
    api.wait(job.id)
    asset = api.get(job.id).segments[0].assets[0]
    request = stories_pb2.ReadAssetRequest(asset_id=asset.id, offset=asset.size_bytes + 1)
    with pytest.raises(grpc.RpcError) as raised:
        list(api.stub.ReadAsset(request, metadata=api.auth(api.acme)))
    assert raised.value.code() == grpc.StatusCode.OUT_OF_RANGE


def test_capabilities_come_from_the_plugins(idle_api: Api) -> None:
    response = idle_api.stub.ListCapabilities(
        stories_pb2.ListCapabilitiesRequest(), metadata=idle_api.auth(idle_api.acme)
    )
    styles = {s.name: s.plugin for s in response.content_styles}
    assert styles["educational"] == "educational" and "fictional" in styles
    assert {b.name for b in response.backends} >= {"local", "flaky", "gemini"}
    assert len(response.audio_types) == 4
    assert (response.max_input_chars, response.max_pictures) == (50_000, 20)


def test_quota_exhaustion_is_resource_exhausted_with_a_quota_failure(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False, quota_chars_per_period=30) as api:
        api.create(text="x" * 20)
        with pytest.raises(grpc.RpcError) as raised:
            api.create(text="y" * 20)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        found = details(raised.value)
        assert found["QuotaFailure"].violations[0].subject.startswith("api_key:")
        assert found["RetryInfo"].retry_delay.seconds > 0
        api.create(text="z" * 20, key=api.globex)  # another key has its own allowance


def test_the_rate_limit_is_per_key(tmp_path) -> None:
    with start_api(
        tmp_path, with_worker=False, rate_limit_per_second=0.5, rate_limit_burst=2
    ) as api:
        request = stories_pb2.ListCapabilitiesRequest()
        api.stub.ListCapabilities(request, metadata=api.auth(api.acme))
        api.stub.ListCapabilities(request, metadata=api.auth(api.acme))
        with pytest.raises(grpc.RpcError) as raised:
            api.stub.ListCapabilities(request, metadata=api.auth(api.acme))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details(raised.value)["ErrorInfo"].reason == "RATE_LIMITED"
        api.stub.ListCapabilities(request, metadata=api.auth(api.globex))


def test_messages_over_the_maximum_size_are_refused(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False, grpc_max_message_bytes=64 * 1024) as api:
        with pytest.raises(grpc.RpcError) as raised:
            api.create(text="x" * 70_000)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_health_reflection_and_graceful_shutdown(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False) as api:
        health = health_pb2_grpc.HealthStub(api.channel)
        request = health_pb2.HealthCheckRequest(service="stories.v1.StoryService")
        assert health.Check(request).status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(api.channel)
        [answer] = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name for s in answer.list_services_response.service}
        assert {"stories.v1.StoryService", "grpc.health.v1.Health"} <= names


def test_shutdown_reports_not_serving_while_it_still_serves_then_stops(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False, shutdown_drain_seconds=1.0) as api:
        health = health_pb2_grpc.HealthStub(api.channel)
        request = health_pb2.HealthCheckRequest(service="stories.v1.StoryService")
        stopping = threading.Thread(target=api.application.api.server().stop, args=(1.0,))
        stopping.start()
        time.sleep(0.2)
        assert health.Check(request).status == health_pb2.HealthCheckResponse.NOT_SERVING
        api.stub.ListCapabilities(  # draining: calls that still arrive are served
            stories_pb2.ListCapabilitiesRequest(), metadata=api.auth(api.acme)
        )
        stopping.join(10)
        with pytest.raises(grpc.RpcError) as raised:
            health.Check(request, timeout=2)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_open_streams_are_capped_per_key_and_overall_and_unary_calls_go_on(tmp_path) -> None:
    capped = {
        "grpc_max_workers": 8,
        "grpc_max_streams": 2,
        "grpc_max_streams_per_key": 1,
        "watch_poll_seconds": 1.0,
    }
    with start_api(tmp_path, with_worker=False, **capped) as api:
        uow_factory = api.application.persistence.unit_of_work_factory()
        _, initech = IssueKey(uow_factory, api.application.core.clock())("initech")
        # No worker: the jobs stay queued and their watches stay open.
        jobs = {key: api.create(key=key) for key in (api.acme, api.globex, initech)}

        def watch(key: str):
            stream = api.stub.WatchJob(
                stories_pb2.WatchJobRequest(job_id=jobs[key].id), metadata=api.auth(key)
            )
            next(stream)  # the snapshot: the stream is open
            return stream

        first = watch(api.acme)
        with pytest.raises(grpc.RpcError) as raised:
            watch(api.acme)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details(raised.value)["ErrorInfo"].reason == "TOO_MANY_STREAMS"
        assert "with this key" in raised.value.details()
        second = watch(api.globex)
        with pytest.raises(grpc.RpcError) as raised:
            watch(initech)
        assert "streams open" in raised.value.details()
        job = jobs[api.acme]
        assert api.get(job.id).id == job.id, "unary calls are still served"
        first.cancel()
        deadline = time.monotonic() + 5
        while True:  # the slot comes back as soon as the server sees the cancel
            try:
                watch(api.acme).cancel()
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        second.cancel()


@pytest.mark.slow
def test_a_burst_of_thousands_of_new_streams_all_open_and_all_hear_the_event(tmp_path) -> None:
    """More new streams at once than gRPC's default backlog (3,000 calls not yet taken up,
    each for 30 s at most), which cancelled the rest of a burst with a bare CANCELLED."""
    streams = 4_000
    with start_api(tmp_path, with_worker=False, grpc_max_streams_per_key=streams) as api:
        job = api.create()

        async def burst() -> list[list[int]]:
            channels = [grpc.aio.insecure_channel(api.target) for _ in range(8)]
            request = stories_pb2.WatchJobRequest(job_id=job.id)
            opened = asyncio.Semaphore(0)

            async def watch(index: int) -> list[int]:
                stub = stories_pb2_grpc.StoryServiceStub(channels[index % len(channels)])
                kinds = []
                async for response in stub.WatchJob(request, metadata=api.auth(api.acme)):
                    kinds.append(response.event.kind)
                    if len(kinds) == 1:
                        opened.release()
                return kinds

            watches = [asyncio.create_task(watch(i)) for i in range(streams)]
            for _ in range(streams):
                await asyncio.wait_for(opened.acquire(), timeout=120)
            await asyncio.to_thread(
                api.stub.CancelJob,
                stories_pb2.CancelJobRequest(job_id=job.id),
                metadata=api.auth(api.acme),
            )
            try:
                return await asyncio.wait_for(asyncio.gather(*watches), timeout=120)
            finally:
                for channel in channels:
                    await channel.close()

        heard = asyncio.run(burst())
    queued, cancelled = events_pb2.JOB_EVENT_KIND_QUEUED, events_pb2.JOB_EVENT_KIND_CANCELLED
    assert len(heard) == streams
    assert all(kinds == [queued, cancelled] for kinds in heard)


def test_a_revoked_key_is_refused_once_the_auth_cache_expires(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False, auth_cache_seconds=0.3) as api:
        request = stories_pb2.ListCapabilitiesRequest()
        api.stub.ListCapabilities(request, metadata=api.auth(api.acme))
        uow_factory = api.application.persistence.unit_of_work_factory()
        RevokeKey(uow_factory, api.application.core.clock())(api.acme_record.id)
        time.sleep(0.4)
        with pytest.raises(grpc.RpcError) as raised:
            api.stub.ListCapabilities(request, metadata=api.auth(api.acme))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_shutdown_ends_open_watches_within_the_grace_period(tmp_path) -> None:
    with start_api(tmp_path, with_worker=False, grpc_max_workers=2) as api:
        job = api.create()
        outcome: list[object] = []

        def watch() -> None:
            try:
                outcome.extend(api.wait(job.id))
            except grpc.RpcError as error:
                outcome.append(error.code())

        watchers = [threading.Thread(target=watch) for _ in range(2)]
        for watcher in watchers:
            watcher.start()
        time.sleep(0.5)  # both streams open, holding both server threads
        server = api.application.api.server()
        started = time.monotonic()
        server.stop(1.0)
        assert time.monotonic() - started < 3.0, "stop() returns once the grace is over"
        for watcher in watchers:
            watcher.join(5)
            assert not watcher.is_alive()
        assert grpc.StatusCode.UNAVAILABLE in outcome or grpc.StatusCode.CANCELLED in outcome


def test_a_known_key_id_with_a_wrong_secret_is_unauthenticated(idle_api: Api) -> None:
    forged = idle_api.acme[:-4] + ("AAAA" if not idle_api.acme.endswith("AAAA") else "BBBB")
    with pytest.raises(grpc.RpcError) as raised:
        idle_api.stub.ListCapabilities(
            stories_pb2.ListCapabilitiesRequest(), metadata=idle_api.auth(forged)
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_racing_creates_with_one_request_id_make_one_job(idle_api: Api) -> None:
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: idle_api.create(request_id="race").id, range(16)))
    assert len(set(ids)) == 1
    listed = idle_api.stub.ListJobs(
        stories_pb2.ListJobsRequest(), metadata=idle_api.auth(idle_api.acme)
    )
    assert [j.id for j in listed.jobs] == ids[:1]


def test_a_watch_resumed_with_the_last_token_loses_nothing_and_repeats_nothing(api: Api) -> None:
    job = api.create(text=TEXT, pictures=3)
    full = api.wait(job.id)  # opened right away: from the latest event, QUEUED or later
    api.wait(job.id)
    everything = list(
        api.stub.WatchJob(
            stories_pb2.WatchJobRequest(job_id=job.id, resume_token="0"),
            metadata=api.auth(api.acme),
        )
    )
    kinds = [r.event.kind for r in everything]
    assert kinds[0] == events_pb2.JOB_EVENT_KIND_QUEUED
    assert kinds[-1] == events_pb2.JOB_EVENT_KIND_SUCCEEDED
    assert kinds.count(events_pb2.JOB_EVENT_KIND_SEGMENT_DONE) == 3
    assert [r.resume_token for r in full] == [r.resume_token for r in everything[-len(full) :]]
    started = everything[kinds.index(events_pb2.JOB_EVENT_KIND_STARTED)].event
    assert started.progress == 0.0 and started.segment_count == 0
    last_done = [r.event for r in everything if r.event.kind == kinds[-2]][-1]
    assert last_done.state == common_pb2.JOB_STATE_RUNNING
    for cut, response in enumerate(everything):
        resumed = api.stub.WatchJob(
            stories_pb2.WatchJobRequest(job_id=job.id, resume_token=response.resume_token),
            metadata=api.auth(api.acme),
        )
        assert list(resumed) == everything[cut + 1 :]
    with pytest.raises(grpc.RpcError) as raised:
        list(
            api.stub.WatchJob(
                stories_pb2.WatchJobRequest(job_id=job.id, resume_token="not-a-token"),
                metadata=api.auth(api.acme),
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
