"""The gRPC server: StoryService, grpc.health.v1, reflection, graceful shutdown.

It runs on grpc.aio, on an event loop of its own thread: an open WatchJob stream is a
coroutine waiting on a queue, so one process holds thousands of them while unary calls
and health checks are answered beside. Calls' blocking work (the database, the object
store) runs on the loop's thread pool (`max_workers`). To its callers (the entry points,
the tests) the server is synchronous: `start`, `port`, `stop`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stories.v1 import stories_pb2, stories_pb2_grpc
from stories_adapters.grpc.limits import TRANSPORT_HEADROOM, TRANSPORT_METADATA_BYTES

log = logging.getLogger(__name__)
SERVICE_NAME = stories_pb2.DESCRIPTOR.services_by_name["StoryService"].full_name
T = TypeVar("T")


class ApiServer:
    def __init__(
        self,
        servicer: stories_pb2_grpc.StoryServiceServicer,
        *,
        host: str,
        port: int,
        max_workers: int,
        max_message_bytes: int,
        max_pending_calls: int = 3000,
        drain_seconds: float = 0.0,
        probe: Callable[[], bool] | None = None,
        probe_seconds: float = 2.0,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        """`probe()` says whether the database answers; it is asked every `probe_seconds`
        and health follows it. `max_pending_calls`: calls arrived and not yet taken up by
        the event loop (a burst of new streams), beyond which gRPC cancels them."""
        self._drain_seconds = drain_seconds
        self._probe = probe
        self._probe_seconds = probe_seconds
        self._stopping = threading.Event()
        self._stop_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(ThreadPoolExecutor(max_workers, thread_name_prefix="grpc"))
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="grpc-loop", daemon=True
        )
        self._thread.start()

        async def build() -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
            server = grpc.aio.server(
                interceptors=list(interceptors),
                options=[
                    # More than we take: RequestLimits refuses the excess in our words.
                    ("grpc.max_receive_message_length", TRANSPORT_HEADROOM * max_message_bytes),
                    ("grpc.max_metadata_size", TRANSPORT_METADATA_BYTES),
                    ("grpc.max_send_message_length", max_message_bytes),
                    # Calls arrived but not yet taken up by the loop: gRPC's defaults (1,000
                    # soft, 3,000 hard, 30 s) cancel the rest of a burst of new streams
                    # (CANCELLED, no detail), so a reconnecting crowd of watchers (10,000
                    # open in about 30 s here) would be turned away.
                    ("grpc.server.max_pending_requests", max_pending_calls),
                    ("grpc.server.max_pending_requests_hard_limit", max_pending_calls),
                    ("grpc.server_max_unrequested_time_in_server", 300),
                ],
            )
            stories_pb2_grpc.add_StoryServiceServicer_to_server(servicer, server)
            checks = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(checks, server)
            reflection.enable_server_reflection(
                [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
            )
            return server, checks, server.add_insecure_port(f"{host}:{port}")

        self.server, self.health, self.port = self._run(build())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> None:
        self._run(self.server.start())
        self._set_health(serving=True)
        if self._probe is not None:
            threading.Thread(target=self._watch_database, name="health-probe", daemon=True).start()

    def stop(self, grace_seconds: float) -> None:
        """NOT_SERVING first, still serving for the drain time, so health checks and load
        balancers route new calls elsewhere; then refuse new calls and give those in
        flight the grace period (open streams are ended after it). Stopping a stopped
        server does nothing."""
        with self._stop_lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        self._run(self.health.enter_graceful_shutdown())
        time.sleep(self._drain_seconds)
        self._run(self.server.stop(grace_seconds))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _set_health(self, *, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )

        async def set_all() -> None:
            for service in ("", SERVICE_NAME):
                await self.health.set(service, status)

        self._run(set_all())

    def _watch_database(self) -> None:
        """NOT_SERVING while the database does not answer, so load balancers and probes
        stop routing here; one log line when it goes, one (with the outage's length) when
        it is back, however many probes failed between."""
        assert self._probe is not None
        down_since: float | None = None
        while not self._stopping.wait(self._probe_seconds):
            up = self._probe()
            if self._stopping.is_set():
                return
            if not up and down_since is None:
                down_since = time.monotonic()
                log.error("the database does not answer: health is NOT_SERVING")
                self._set_health(serving=False)
            elif up and down_since is not None:
                log.warning(
                    "the database answers again after %.1f s: health is SERVING",
                    time.monotonic() - down_since,
                )
                down_since = None
                self._set_health(serving=True)
