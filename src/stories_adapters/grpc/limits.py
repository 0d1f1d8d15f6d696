"""What the transport would refuse with a bare status, refused in our words instead.

gRPC itself answers a request it cannot decode with INTERNAL ("Exception deserializing
request!") and an oversized message or metadata with a bare RESOURCE_EXHAUSTED: no
ErrorInfo, nothing a client can act on. So the server lets the transport take more than we
accept (`TRANSPORT_HEADROOM` times the message limit, `TRANSPORT_METADATA_BYTES` of
metadata) and this interceptor refuses what is over our limits, or undecodable, as every
other error is refused: INVALID_ARGUMENT or RESOURCE_EXHAUSTED with an ErrorInfo (and a
BadRequest naming the request). What even exceeds the transport's limits is still refused
bare by gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from stories_adapters.grpc.errors import RequestTooLarge, to_status
from stories_core.errors import InvalidInput, StoriesError

TRANSPORT_HEADROOM = 4
"""The transport takes messages up to this many times our limit, so that we can answer
those between with our own error."""
METADATA_BYTES = 16 * 1024
"""Metadata (headers) we accept per call: gRPC's usual limit."""
TRANSPORT_METADATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class _Refused:
    """Stands for a request the deserializer would not give: why."""

    error: StoriesError


class RequestLimits(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, max_message_bytes: int) -> None:
        self._max_message = max_message_bytes

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        metadata_bytes = sum(
            len(key) + len(value) for key, value in details.invocation_metadata or ()
        )
        too_much = (
            RequestTooLarge(
                f"the call's metadata has {metadata_bytes:,} bytes; the limit is "
                f"{METADATA_BYTES:,}",
                size=metadata_bytes,
                limit=METADATA_BYTES,
            )
            if metadata_bytes > METADATA_BYTES
            else None
        )
        message_type = details.method.rpartition("/")[2] + "Request"
        deserialize = handler.request_deserializer

        def checked(raw: bytes) -> Any:
            if len(raw) > self._max_message:
                return _Refused(
                    RequestTooLarge(
                        f"the request has {len(raw):,} bytes; the limit is {self._max_message:,}",
                        size=len(raw),
                        limit=self._max_message,
                    )
                )
            try:
                return deserialize(raw) if deserialize is not None else raw
            except Exception:  # protobuf's DecodeError, and what a codec may raise instead
                return _Refused(
                    InvalidInput(
                        "request",
                        f"is not a valid stories.v1.{message_type}: malformed bytes, or a "
                        "string field that is not UTF-8",
                    )
                )

        def refusal(request: Any) -> StoriesError | None:
            return too_much or (request.error if isinstance(request, _Refused) else None)

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if (error := refusal(request)) is not None:
                    await context.abort_with_status(to_status(error))
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=checked, response_serializer=handler.response_serializer
            )
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if (error := refusal(request)) is not None:
                await context.abort_with_status(to_status(error))
            async for response in inner_stream(request, context):
                yield response

        return grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=checked, response_serializer=handler.response_serializer
        )
