"""The sweeper rings again for jobs nobody works on, without piling doorbells up."""

from stories_core.services.sweep import Sweep
from tests.unit.conftest import World


def test_a_waiting_job_is_rung_again_once_per_wait_and_a_dead_workers_at_every_sweep(
    world: World,
) -> None:
    queued = world.submit(world.request("One part.", pictures=1))
    held = world.submit(world.request("Another part.", pictures=1))
    with world.database() as uow:
        uow.jobs.claim(held.id, "dead-worker", world.clock.now(), world.clock.now())
        uow.commit()
    sweep = Sweep(world.database, world.clock, world.queue, queued_for_seconds=60)

    world.clock.advance(1)
    assert sweep() == 1, "the expired lease only: the queued job has not waited yet"
    world.clock.advance(60)
    assert sweep() == 2
    for _ in range(11):  # a minute of sweeps every 5 s, behind a backlog
        world.clock.advance(5)
        sweep()
    rings = [job_id for job_id, _ in world.queue.published]
    assert rings.count(queued.id) == 1, "rung again once, not at every sweep"
    assert rings.count(held.id) == 13
    world.clock.advance(6)  # more than a minute since it was rung
    sweep()
    assert [job_id for job_id, _ in world.queue.published].count(queued.id) == 2
