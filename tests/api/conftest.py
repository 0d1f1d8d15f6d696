"""The gRPC service, in process on port 0, embedded (SQLite, local folder, in-process worker)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from dependency_injector import providers

from stories.v1 import stories_pb2, stories_pb2_grpc
from stories_adapters.containers import Application, build_application
from stories_adapters.settings import Settings
from stories_core.errors import GenerationError
from stories_core.generation import Media, Narration, SegmentSpan, SpokenLine
from stories_core.plugins import hookimpl, make_plugin_manager
from stories_core.segmentation import sentence_boundaries
from stories_core.services.access import IssueKey


class FlakyBackend:
    """Fails every segment's drawing while `failing` is set; tiny real-looking outputs."""

    name = "flaky"

    def __init__(self) -> None:
        self.failing = threading.Event()
        self.draws = itertools.count()

    def segment(self, text, pictures, style, language):
        cuts = [0, *sentence_boundaries(text)[: pictures - 1], len(text)]
        return [SegmentSpan(a, b) for a, b in itertools.pairwise(cuts)]

    def narrate(self, brief, audio_type, style):
        return Narration((SpokenLine("narrator", brief.text),))

    def speak(self, narration, style):
        return Media(narration.text.encode(), "audio/mpeg", "mp3", {"duration_seconds": 1.0})

    def image_prompt(self, brief, style):
        return brief.title

    def draw(self, prompt, brief, style):
        next(self.draws)
        if self.failing.is_set() and brief.index > 0:
            raise GenerationError("model down", code="BACKEND_UNAVAILABLE", retryable=True)
        return Media(b"\x89PNG" + prompt.encode(), "image/png", "png", {"width": 1})


class FlakyPlugin:
    def __init__(self, backend: FlakyBackend) -> None:
        self.backend = backend

    @hookimpl
    def stories_register_backends(self):
        backend = self.backend

        class Factory:
            name = "flaky"
            description = "fails on demand (tests)"

            def create(self, environ):
                return backend

        return [Factory()]


class Api:
    def __init__(self, application: Application, port: int, backend: FlakyBackend) -> None:
        self.application = application
        self.target = f"127.0.0.1:{port}"
        self.channel = grpc.insecure_channel(self.target)
        self.stub = stories_pb2_grpc.StoryServiceStub(self.channel)
        self.flaky = backend
        uow_factory = application.persistence.unit_of_work_factory()
        clock = application.core.clock()
        self.acme_record, self.acme = IssueKey(uow_factory, clock)("acme")
        _, self.globex = IssueKey(uow_factory, clock)("globex")

    @staticmethod
    def auth(key: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {key}"),)

    def create(self, key: str | None = None, **fields) -> stories_pb2.Job:
        values = {"text": "One. Two. Three.", "content_type": "educational", "pictures": 2}
        values |= fields
        request = stories_pb2.CreateJobRequest(**values)
        return self.stub.CreateJob(request, metadata=self.auth(key or self.acme)).job

    def wait(self, job_id: str, key: str | None = None) -> list[stories_pb2.WatchJobResponse]:
        request = stories_pb2.WatchJobRequest(job_id=job_id)
        return list(self.stub.WatchJob(request, metadata=self.auth(key or self.acme), timeout=60))

    def get(self, job_id: str, key: str | None = None) -> stories_pb2.Job:
        request = stories_pb2.GetJobRequest(job_id=job_id)
        return self.stub.GetJob(request, metadata=self.auth(key or self.acme)).job


@contextmanager
def start_api(tmp_path: Path, *, with_worker: bool = True, **settings) -> Iterator[Api]:
    """The service on a free port, stopped on leaving the block."""
    values = {
        "home": tmp_path,
        "grpc_port": 0,
        "rate_limit_per_second": 0,
        "auth_cache_seconds": 0,
        "watch_poll_seconds": 0.2,
        "dispatcher_poll_seconds": 0.02,
        "shutdown_drain_seconds": 0,
        **settings,
    }
    variables = {f"STORIES_{name.upper()}": value for name, value in values.items()}
    application = build_application(Settings.from_variables(variables))
    backend = FlakyBackend()
    application.generation.plugin_manager.override(
        providers.Singleton(make_plugin_manager, extra_plugins=[FlakyPlugin(backend)])
    )
    server = application.api.server()
    runtime = application.workers.embedded_runtime() if with_worker else None
    if runtime:
        runtime.start()
    server.start()
    api = Api(application, server.port, backend)
    try:
        yield api
    finally:
        api.channel.close()
        server.stop(0)
        if runtime:
            runtime.stop(5)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with start_api(tmp_path) as running:
        yield running


@pytest.fixture
def idle_api(tmp_path: Path) -> Iterator[Api]:
    """No worker: jobs stay queued."""
    with start_api(tmp_path, with_worker=False) as running:
        yield running
