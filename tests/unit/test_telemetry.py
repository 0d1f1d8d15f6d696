"""What the core tells of a job's work: one trace per job, its stages as spans, and the
stage timings, retries and leases given to the Telemetry port."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

import pytest
from opentelemetry import trace

from stories_adapters.tracing import TraceContextFilter
from stories_core.model import Topic
from stories_core.plugins.retry import RetryPolicy, TransientFailure
from stories_core.services.process import ProcessJob
from stories_core.services.webhooks import DeliverWebhooks, WebhookPolicy
from stories_core.telemetry import StageTiming, counting_retries, job_context, tracer
from tests.fakes import ScriptedBackend
from tests.otlp import Span, from_sdk, local_spans
from tests.unit.conftest import World

TEXT = "First part.\n\nSecond part."
OK = ("ok", "cancelled")
URL = "https://hooks.example.com/stories"


class RecordingTelemetry:
    def __init__(self) -> None:
        self.timings: list[StageTiming] = []
        self.leases: list[str] = []
        self.running_changes: list[int] = []
        self.created: list[tuple[str, str]] = []

    def job_created(self, style: str, backend: str) -> None:
        self.created.append((style, backend))

    def stage_finished(self, timing: StageTiming) -> None:
        self.timings.append(timing)

    def lease(self, outcome: str) -> None:
        self.leases.append(outcome)

    def running(self, change: int) -> None:
        self.running_changes.append(change)


def processor(world: World, telemetry: RecordingTelemetry) -> ProcessJob:
    return ProcessJob(
        world.database,
        world.blobs,
        world.catalog,
        world.clock,
        world.settings,
        "worker-1",
        telemetry=telemetry,
    )


def test_every_stage_of_a_job_is_timed_once_per_call() -> None:
    world, telemetry = World(), RecordingTelemetry()
    job = world.submit(world.request(TEXT, pictures=2))
    assert processor(world, telemetry)(job.id).state.value == "succeeded"

    stages = Counter(t.stage for t in telemetry.timings)
    assert stages == {
        "segment": 1,
        "narrate": 2,
        "speak": 2,
        "image_prompt": 2,
        "draw": 2,
        "store": 4,  # an image and an audio file per segment
        "render": 1,
    }
    assert {(t.outcome, t.backend, t.style, t.retries) for t in telemetry.timings} == {
        ("ok", "scripted", "plain", 0)
    }
    assert all(t.seconds >= 0 for t in telemetry.timings)
    assert telemetry.running_changes == [1, -1]


def test_a_created_job_is_counted_once_however_often_its_request_is_repeated() -> None:
    from stories_core.services.submit import Limits, SubmitJob
    from tests.fakes import FixedLanguage

    world, telemetry = World(), RecordingTelemetry()
    submit = SubmitJob(
        world.database, world.catalog, world.clock, Limits(), FixedLanguage(), telemetry=telemetry
    )
    first = submit(world.request(TEXT, request_id="r-1"))
    assert submit(world.request(TEXT, request_id="r-1")).id == first.id
    assert telemetry.created == [("plain", "scripted")]


def test_a_failed_backend_call_is_timed_with_its_error_code() -> None:
    world = World(ScriptedBackend(fail_on_index=1))
    telemetry = RecordingTelemetry()
    job = world.submit(world.request(TEXT, pictures=2))
    assert processor(world, telemetry)(job.id).state.value == "failed"
    # (A sibling's stage cut short when the job stopped is "cancelled", not a failure.)
    failed = [(t.stage, t.outcome) for t in telemetry.timings if t.outcome not in OK]
    assert failed == [("draw", "BACKEND_UNAVAILABLE")]
    assert telemetry.running_changes == [1, -1]


def test_backend_retries_are_counted_for_the_stage_and_told_on_its_span() -> None:
    exporter = local_spans()
    tries = iter([TransientFailure("429"), TransientFailure("503"), "drawn"])

    def attempt() -> str:
        outcome = next(tries)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    policy = RetryPolicy(attempts=3, base_seconds=0.001, max_seconds=0.001)
    with tracer.start_as_current_span("draw"), counting_retries() as retries:
        assert policy.run(attempt, lambda error: error, describe="the draw call") == "drawn"
    assert retries.count == 2
    [span] = exporter.get_finished_spans()
    assert [(e.name, e.attributes["attempt"]) for e in span.events] == [("retry", 1), ("retry", 2)]
    assert span.events[0].attributes["reason"] == "429"


def spans_by_name(spans: list[Span]) -> dict[str, list[Span]]:
    named: dict[str, list[Span]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def test_a_job_is_one_trace_from_the_span_that_created_it_to_its_webhook() -> None:
    exporter = local_spans()
    world, telemetry = World(), RecordingTelemetry()
    with tracer.start_as_current_span("CreateJob") as create:
        job = world.submit(world.request(TEXT, pictures=2, webhook_url=URL))
    created = create.get_span_context()
    assert job.trace_id == trace.format_trace_id(created.trace_id)
    [doorbell] = [m.payload for m in world.outbox(Topic.JOBS)]
    assert doorbell["traceparent"] == job.trace_parent
    assert job.trace_parent.split("-")[2] == trace.format_span_id(created.span_id)

    # The worker gets the doorbell's traceparent (here the creating span's own).
    processor(world, telemetry)(job.id, doorbell["traceparent"])
    sender = Sender()
    policy = WebhookPolicy(secret="s3cret")
    assert DeliverWebhooks(world.database, sender, world.clock, policy, draw=lambda: 1.0)() == 1

    spans = [from_sdk(s) for s in exporter.get_finished_spans()]
    assert {s.trace_id for s in spans} == {job.trace_id}
    named = spans_by_name(spans)
    by_id = {s.span_id: s for s in spans}
    [run] = named["process job"]
    assert by_id[run.parent_id].name == "CreateJob"
    assert run.attributes["stories.job_id"] == job.id
    segments = named["generate segment"]
    assert sorted(s.attributes["stories.segment_index"] for s in segments) == [0, 1]
    assert {by_id[s.parent_id].name for s in segments} == {"process job"}
    for stage in ("narrate", "speak", "image_prompt", "draw", "store"):
        assert len(named[stage]) == (4 if stage == "store" else 2), stage
        assert {by_id[s.parent_id].name for s in named[stage]} == {"generate segment"}, stage
    assert {by_id[s.parent_id].name for s in named["segment"] + named["render"]} == {"process job"}
    [post] = named["webhook POST"]
    assert by_id[post.parent_id].name == "process job", "the span that recorded the event"
    [(_, _, headers)] = sender.requests
    assert headers["traceparent"].split("-")[1:3] == [job.trace_id, post.span_id]


def test_a_job_run_without_a_doorbell_joins_its_trace_through_the_span_that_created_it() -> None:
    exporter = local_spans()
    world = World()
    with tracer.start_as_current_span("CreateJob"):
        job = world.submit(world.request(TEXT, pictures=2))
    processor(world, RecordingTelemetry())(job.id)  # stolen or swept: no traceparent
    spans = {s.name: s for s in map(from_sdk, exporter.get_finished_spans())}
    assert spans["process job"].parent_id == spans["CreateJob"].span_id
    assert spans["process job"].trace_id == job.trace_id


def test_a_traceparent_of_another_trace_does_not_move_the_job_out_of_its_own() -> None:
    job_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    context = job_context(job_trace, other)
    span_context = trace.get_current_span(context).get_span_context()
    assert trace.format_trace_id(span_context.trace_id) == job_trace
    assert not trace.get_current_span(job_context("caller-own-id_1")).get_span_context().is_valid


class Sender:
    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.requests.append((url, body, dict(headers)))
        return 204


def test_every_call_that_changes_a_job_is_a_server_span_in_the_callers_trace() -> None:
    import grpc

    from stories.v1 import stories_pb2, stories_pb2_grpc
    from stories_adapters.tracing import GrpcTracing
    from stories_core.telemetry import current_trace_id
    from tests.grpc_stub_server import stub_with

    seen: list[str] = []

    class Servicer(stories_pb2_grpc.StoryServiceServicer):
        async def CancelJob(self, request, context):
            seen.append(current_trace_id())
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such job")

        async def GetJob(self, request, context):
            seen.append(current_trace_id())
            return stories_pb2.GetJobResponse()

    exporter = local_spans()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    own_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with stub_with(Servicer(), GrpcTracing()) as stub:
        for metadata in ([("traceparent", caller)], [("x-trace-id", own_id)], []):
            with pytest.raises(grpc.RpcError):
                stub.CancelJob(stories_pb2.CancelJobRequest(job_id="x"), metadata=metadata)
        stub.GetJob(stories_pb2.GetJobRequest(job_id="x"))  # a read: no span
    spans = [from_sdk(s) for s in exporter.get_finished_spans()]
    assert [s.name for s in spans] == ["stories.v1.StoryService/CancelJob"] * 3
    assert [(s.trace_id, s.parent_id) for s in spans[:2]] == [
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"),
        (own_id, spans[1].parent_id),
    ]
    assert spans[2].parent_id == "" and spans[2].trace_id not in seen[:2]
    assert seen == [s.trace_id for s in spans] + [""]
    assert {s.attributes["rpc.grpc.status_code"] for s in spans} == {5}  # NOT_FOUND


def test_a_retry_asked_for_in_another_trace_runs_in_the_jobs_own() -> None:
    from stories_core.services.control import RetryJob

    exporter = local_spans()
    world = World(ScriptedBackend(fail_on_index=1))
    with tracer.start_as_current_span("CreateJob"):
        job = world.submit(world.request(TEXT, pictures=2))
    processor(world, RecordingTelemetry())(job.id)
    world.backend.fail_on_index = None
    with tracer.start_as_current_span("RetryJob"):  # the caller's own trace, not the job's
        RetryJob(world.database, world.clock)(job.id)
    doorbells = [m.payload for m in world.outbox(Topic.JOBS)]
    assert [d["traceparent"] for d in doorbells] == [job.trace_parent] * 2
    exporter.clear()
    assert processor(world, RecordingTelemetry())(job.id, doorbells[-1]["traceparent"])
    runs = [from_sdk(s) for s in exporter.get_finished_spans() if s.name == "process job"]
    assert [(r.trace_id, r.parent_id) for r in runs] == [
        (job.trace_id, job.trace_parent.split("-")[2])
    ]


def test_a_run_given_back_or_cancelled_is_no_lost_lease() -> None:
    import threading

    from stories_core.services.control import CancelJob

    for end in ("release", "cancel"):
        world, telemetry = World(ScriptedBackend(delay=0.05), concurrency=1), RecordingTelemetry()
        job = world.submit(world.request("One.\n\nTwo.\n\nThree.\n\nFour.", pictures=4))
        run = processor(world, telemetry)
        worker = threading.Thread(target=run, args=(job.id,))
        worker.start()
        while not world.backend.calls.get("draw"):
            threading.Event().wait(0.01)
        if end == "release":
            assert run.release(job.id)
        else:
            CancelJob(world.database, world.clock)(job.id)
        worker.join(10)
        assert not worker.is_alive()
        assert "lost" not in telemetry.leases, end


class Broken(ScriptedBackend):
    """Logs from the backend's thread, then fails as a bug would."""

    def draw(self, *args: object) -> object:
        logging.getLogger("a.backend").warning("drawing went wrong")
        raise RuntimeError("a bug")


@pytest.mark.parametrize("given", [None, "caller-own-id_1"], ids=["own", "callers-non-w3c"])
def test_every_log_line_of_a_jobs_work_carries_its_trace_id(
    caplog: pytest.LogCaptureFixture, given: str | None
) -> None:
    world = World(Broken())
    # No span: the job gets a trace id of its own, or keeps the caller's.
    job = world.submit(world.request(TEXT, pictures=2), trace_id=given)
    caplog.handler.addFilter(TraceContextFilter())
    with caplog.at_level(logging.INFO):
        processor(world, RecordingTelemetry())(job.id)
    lines = [r for r in caplog.records if r.name == "a.backend" or job.id in r.getMessage()]
    assert len(lines) == 3, "two backend warnings (a thread each) and the job's failure"
    assert {getattr(r, "trace_id", None) for r in lines} == {given or job.trace_id}
