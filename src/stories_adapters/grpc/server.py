"""The gRPC server: StoryService, grpc.health.v1, reflection, graceful shutdown."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stories.v1 import stories_pb2, stories_pb2_grpc

SERVICE_NAME = stories_pb2.DESCRIPTOR.services_by_name["StoryService"].full_name


class ApiServer:
    def __init__(
        self,
        servicer: stories_pb2_grpc.StoryServiceServicer,
        *,
        host: str,
        port: int,
        max_workers: int,
        max_message_bytes: int,
        drain_seconds: float = 0.0,
    ) -> None:
        self._drain_seconds = drain_seconds
        self.server = grpc.server(
            ThreadPoolExecutor(max_workers, thread_name_prefix="grpc"),
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
        stories_pb2_grpc.add_StoryServiceServicer_to_server(servicer, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")

    def start(self) -> None:
        self.server.start()
        for service in ("", SERVICE_NAME):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace_seconds: float) -> None:
        """NOT_SERVING first, still serving for the drain time, so health checks and load
        balancers route new calls elsewhere; then refuse new calls and give those in
        flight the grace period."""
        self.health.enter_graceful_shutdown()
        time.sleep(self._drain_seconds)
        self.server.stop(grace_seconds).wait()
