"""The worker's consumer: job doorbells from the jobs topic, run through ProcessJob.

The database is the source of truth and Kafka only rings: a message's offset is stored once
the job's outcome is recorded (or the job turned out to be someone else's), so a crash
re-reads at most the messages in flight, and a repeated message is harmless because a job
runs only under its lease.

In parts, each readable alone:
- `loop.py`: `JobConsumer.run(stop)`, the poll loop: buffering and pausing, rebalances,
  storing and committing offsets, dead letters, graceful shutdown;
- `run_jobs.py`: the jobs strategy, up to `concurrency` jobs on a thread pool, the rest
  waiting their turn;
- `offsets.py`: which offset a partition may store while its jobs finish out of order;
- `stealing.py`: when an idle worker asks the database for jobs rung elsewhere.
"""

from stories_adapters.kafka.consumer.loop import BUFFERED_DOORBELLS, JobConsumer
from stories_adapters.kafka.consumer.offsets import OffsetTracker

__all__ = ["BUFFERED_DOORBELLS", "JobConsumer", "OffsetTracker"]
