"""A small Python client for the stories.v1 API, used by the CLI (and handy in scripts)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator

import grpc
from opentelemetry import propagate

from stories.v1 import stories_pb2, stories_pb2_grpc
from stories_core.model import Asset

RETRY_POLICY = {
    "methodConfig": [
        {
            "name": [{"service": "stories.v1.StoryService"}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.5s",
                "maxBackoff": "5s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}
"""gRPC's own retries: a call the server answered UNAVAILABLE (a database outage, a
restart) is tried again, up to five times, after the server's pushback (5 s) or, without
one, a jittered backoff from 0.5 s; the call's deadline still bounds the whole. Reads are
safe to repeat, and so is CreateJob, which carries a request_id; a repeated CancelJob or
RetryJob whose first answer was lost may answer that the job already changed."""


class StoriesClient:
    def __init__(self, target: str, api_key: str, *, timeout: float = 30.0) -> None:
        self._channel = grpc.insecure_channel(
            target, options=[("grpc.service_config", json.dumps(RETRY_POLICY))]
        )
        self._stub = stories_pb2_grpc.StoryServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> StoriesClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_job(self, request: stories_pb2.CreateJobRequest) -> stories_pb2.Job:
        """The job; a request without a request_id gets one, so a retry makes no second job.
        Made inside a traced span (OpenTelemetry), the job joins that trace: its W3C
        `traceparent` goes with the call."""
        if not request.request_id:
            request.request_id = uuid.uuid4().hex
        trace_context: dict[str, str] = {}
        propagate.inject(trace_context)
        metadata = self._metadata + tuple(trace_context.items())
        response = self._stub.CreateJob(request, metadata=metadata, timeout=self._timeout)
        return response.job

    def get_job(self, job_id: str, *, full: bool = True) -> stories_pb2.Job:
        view = stories_pb2.JOB_VIEW_FULL if full else stories_pb2.JOB_VIEW_BASIC
        request = stories_pb2.GetJobRequest(job_id=job_id, view=view)
        return self._stub.GetJob(request, metadata=self._metadata, timeout=self._timeout).job

    def watch_job(self, job_id: str) -> Iterator[stories_pb2.WatchJobResponse]:
        """Events until the job ends (no deadline: a job may take a while)."""
        return self._stub.WatchJob(
            stories_pb2.WatchJobRequest(job_id=job_id), metadata=self._metadata
        )

    def read_asset(self, asset: Asset, *, attempts: int = 3) -> Iterator[bytes]:
        """The asset's bytes; an interrupted stream resumes from the bytes received, and
        the checksum is verified at the end."""
        received = 0
        digest = hashlib.sha256()
        for attempt in range(attempts):
            try:
                request = stories_pb2.ReadAssetRequest(asset_id=asset.id, offset=received)
                for chunk in self._stub.ReadAsset(request, metadata=self._metadata):
                    received += len(chunk.data)
                    digest.update(chunk.data)
                    yield chunk.data
                break
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts - 1:
                    raise
        if "sha256:" + digest.hexdigest() != asset.checksum:
            raise OSError(f"asset {asset.id}: checksum mismatch after download")
