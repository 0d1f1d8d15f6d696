import pytest

from stories_core.model import OutboxMessage, Topic
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.submit import JobRequest, Limits, SubmitJob
from tests.fakes import (
    FakeCatalog,
    FakeClock,
    FixedLanguage,
    InMemoryBlobStore,
    InMemoryDatabase,
    RecordingEvents,
    RecordingQueue,
    ScriptedBackend,
)


class World:
    """The core wired to fakes."""

    def __init__(self, backend: ScriptedBackend | None = None, concurrency: int = 5) -> None:
        self.events = RecordingEvents()
        self.database = InMemoryDatabase(self.events)
        self.blobs = InMemoryBlobStore()
        self.backend = backend or ScriptedBackend()
        self.catalog = FakeCatalog(self.backend)
        self.clock = FakeClock()
        self.queue = RecordingQueue()
        self.submit = SubmitJob(self.database, self.catalog, self.clock, Limits(), FixedLanguage())
        # An outage outlasts the patience in milliseconds here, not in five minutes.
        self.settings = ProcessingSettings(
            max_concurrent_segments=concurrency,
            outage_patience_seconds=0.05,
            outage_backoff_seconds=0.001,
            outage_max_backoff_seconds=0.005,
        )

    def processor(self, owner: str = "worker-1") -> ProcessJob:
        return ProcessJob(
            self.database,
            self.blobs,
            self.catalog,
            self.clock,
            self.settings,
            owner,
        )

    def outbox(self, topic: Topic) -> list[OutboxMessage]:
        return [m for m in self.database.tables.outbox if m.topic is topic]

    def request(self, text: str, pictures: int = 3, **fields: object) -> JobRequest:
        values: dict[str, object] = {"content_type": "plain", "backend": "scripted", **fields}
        return JobRequest(text=text, pictures=pictures, **values)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()
