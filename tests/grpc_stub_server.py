"""A real ApiServer around a hand-written servicer, for tests of one interceptor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from stories.v1 import stories_pb2_grpc


@contextmanager
def stub_with(
    servicer: stories_pb2_grpc.StoryServiceServicer, interceptor: grpc.aio.ServerInterceptor
) -> Iterator[stories_pb2_grpc.StoryServiceStub]:
    """A client stub of `servicer` served on grpc.aio behind `interceptor`; stopped after."""
    from stories_adapters.grpc.server import ApiServer

    server = ApiServer(
        servicer,
        host="127.0.0.1",
        port=0,
        max_workers=2,
        max_message_bytes=1 << 20,
        interceptors=[interceptor],
    )
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield stories_pb2_grpc.StoryServiceStub(channel)
    finally:
        server.stop(0)
