"""A job whose object store is down fails in our words: STORAGE_UNAVAILABLE, retryable,
never INTERNAL, never the store's address or an object key."""

from __future__ import annotations

from stories_core.errors import StorageUnavailable
from stories_core.events import EventKind
from stories_core.model import JobState
from stories_core.services.query import JobQueries
from tests.fakes import InMemoryBlobStore
from tests.unit.conftest import World

TEXT = "\n\n".join(f"Paragraph {i} says something." for i in range(4))
MESSAGE = "the object store did not answer (timeout after 30 s)"


class UnavailableBlobStore(InMemoryBlobStore):
    """Takes `succeed` writes, then answers every write as a store that timed out."""

    def __init__(self, succeed: int = 0) -> None:
        super().__init__()
        self.succeed = succeed

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.puts >= self.succeed:
            raise StorageUnavailable(MESSAGE)
        super().put(key, data, content_type)


def test_storage_unavailable_is_its_own_retryable_code() -> None:
    error = StorageUnavailable(MESSAGE)
    assert error.code == "STORAGE_UNAVAILABLE" and error.code != "INTERNAL"
    assert error.retryable is True


def test_a_job_whose_store_is_down_fails_retryable_with_storage_unavailable() -> None:
    world = World()
    world.blobs = UnavailableBlobStore()
    job = world.submit(world.request(TEXT, pictures=4))
    world.processor()(job.id)
    failed = JobQueries(world.database).get(job.id)
    assert failed.state is JobState.FAILED
    assert (failed.error_code, failed.error_message, failed.error_retryable) == (
        "STORAGE_UNAVAILABLE",
        MESSAGE,
        True,
    )
    [event] = [e for e in world.events.events if e.kind is EventKind.JOB_FAILED]
    assert (event.error_code, event.error_retryable) == ("STORAGE_UNAVAILABLE", True)


def test_a_store_failing_mid_job_keeps_the_finished_segments_and_is_retryable() -> None:
    world = World(concurrency=1)
    world.blobs = UnavailableBlobStore(succeed=4)
    job = world.submit(world.request(TEXT, pictures=4))
    world.processor()(job.id)
    failed = JobQueries(world.database).get(job.id)
    assert (failed.state, failed.error_code, failed.error_retryable) == (
        JobState.FAILED,
        "STORAGE_UNAVAILABLE",
        True,
    )
    assert all(key not in (failed.error_message or "") for key in world.blobs.objects)
