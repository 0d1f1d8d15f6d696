"""Work stealing: which jobs an idle worker may take without their doorbells."""

from stories_core.services.steal import FindStealable
from tests.unit.conftest import World


def test_only_jobs_queued_long_enough_are_stealable_oldest_first(world: World) -> None:
    old = [world.submit(world.request(f"Old job {n}.")) for n in range(3)]
    world.clock.advance(2)
    world.submit(world.request("A fresh job."))
    found = FindStealable(world.database, world.clock, queued_for_seconds=1.5)(2)
    assert found == [(j.id, j.trace_id) for j in old[:2]]


def test_a_running_job_is_not_stealable_until_its_lease_expires(world: World) -> None:
    job = world.submit(world.request("A job."))
    world.clock.advance(5)
    with world.database() as uow:
        now = world.clock.now()
        uow.jobs.claim(job.id, "worker-1", now, now.replace(year=now.year + 1))
        uow.commit()
    assert FindStealable(world.database, world.clock, queued_for_seconds=1)(5) == []


def test_stealing_off_never_asks_the_database(world: World) -> None:
    world.submit(world.request("A job."))
    world.clock.advance(60)

    def unreachable() -> None:
        raise AssertionError("the database was asked")

    assert FindStealable(unreachable, world.clock, queued_for_seconds=0)(5) == []  # type: ignore[arg-type]
