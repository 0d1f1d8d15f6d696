"""Listing a tenant's jobs: AIP-158 page tokens."""

import pytest

from stories_core.errors import InvalidInput
from stories_core.model import JobState
from stories_core.services.query import JobQueries
from tests.unit.conftest import World

TEXT = "One. Two."


def submit(world: World, count: int) -> list[str]:
    """Jobs created a second apart, oldest first."""
    ids = []
    for _ in range(count):
        world.clock.advance(1)
        ids.append(world.submit(world.request(TEXT)).id)
    return ids


def test_pages_cover_every_job_once_even_as_jobs_are_added(world: World) -> None:
    made = submit(world, 5)
    queries = JobQueries(world.database)
    first = queries.list("default", page_size=2)
    submit(world, 1)  # newer than every page: never shows up later
    rest = listed_ids_after(queries, first.next_page_token)
    assert [job.id for job in first.jobs] + rest == list(reversed(made))


def listed_ids_after(queries: JobQueries, token: str) -> list[str]:
    ids = []
    while token:
        page = queries.list("default", page_size=2, page_token=token)
        ids += [job.id for job in page.jobs]
        token = page.next_page_token
    return ids


def test_a_token_only_works_with_the_filter_it_came_with(world: World) -> None:
    submit(world, 3)
    queries = JobQueries(world.database)
    token = queries.list("default", states=[JobState.QUEUED], page_size=1).next_page_token
    assert queries.list("default", states=[JobState.QUEUED], page_size=1, page_token=token).jobs
    for other in ([], [JobState.FAILED], [JobState.QUEUED, JobState.FAILED]):
        with pytest.raises(InvalidInput, match="different filter") as raised:
            queries.list("default", states=other, page_token=token)
        assert raised.value.field == "page_token"
    with pytest.raises(InvalidInput, match="different filter"):
        queries.list("globex", states=[JobState.QUEUED], page_token=token)


@pytest.mark.parametrize("token", ["!!", "bm90IGpzb24=", "WyIyMDI2LTAxLTAxIiwgIngiLCAiZCJd"])
def test_a_forged_token_is_bad_input_naming_the_field(world: World, token: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        JobQueries(world.database).list("default", page_token=token)
    assert raised.value.field == "page_token"


def test_a_shortened_page_continues_right_after_its_last_job(world: World) -> None:
    made = submit(world, 4)
    queries = JobQueries(world.database)
    page = queries.shortened(queries.list("default", page_size=3), 1, "default", [])
    assert [job.id for job in page.jobs] == [made[3]]
    assert listed_ids_after(queries, page.next_page_token) == [made[2], made[1], made[0]]


def test_a_token_is_taken_back_by_every_process_sharing_the_key_and_by_no_other(
    world: World,
) -> None:
    from stories_core.services.query import PageTokens

    submit(world, 3)
    issuing = JobQueries(world.database, PageTokens(b"k" * 32))
    token = issuing.list("default", page_size=1).next_page_token
    sibling = JobQueries(world.database, PageTokens(b"k" * 32))  # another API process
    assert len(sibling.list("default", page_size=5, page_token=token).jobs) == 2
    stranger = JobQueries(world.database, PageTokens(b"x" * 32))
    with pytest.raises(InvalidInput, match="not a token this service issued"):
        stranger.list("default", page_token=token)
