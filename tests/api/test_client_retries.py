"""The Python client rides out an API that answers UNAVAILABLE for a while (a database
outage), and its retries of CreateJob can never make a second job."""

from concurrent import futures

import grpc
import pytest

from stories.v1 import stories_pb2, stories_pb2_grpc
from stories_adapters.client import StoriesClient


class Flaky(stories_pb2_grpc.StoryServiceServicer):
    """Answers UNAVAILABLE `down_for` times, then records the job."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.requests: list[stories_pb2.CreateJobRequest] = []

    def CreateJob(self, request, context):
        self.requests.append(request)
        if len(self.requests) <= self.down_for:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the database did not answer")
        return stories_pb2.CreateJobResponse(job=stories_pb2.Job(id="job-1"))


@pytest.fixture
def flaky_server():
    servers = []

    def start(down_for: int) -> tuple[Flaky, str]:
        servicer = Flaky(down_for)
        server = grpc.server(futures.ThreadPoolExecutor(2))
        stories_pb2_grpc.add_StoryServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return servicer, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def test_create_job_is_retried_through_unavailable_with_one_request_id(flaky_server) -> None:
    servicer, target = flaky_server(down_for=2)
    with StoriesClient(target, "key") as client:
        job = client.create_job(stories_pb2.CreateJobRequest(text="One."))
    assert job.id == "job-1"
    assert len(servicer.requests) == 3
    ids = {request.request_id for request in servicer.requests}
    assert len(ids) == 1 and "" not in ids, "every try carries the same idempotency key"


def test_an_outage_longer_than_the_retries_reaches_the_caller(flaky_server) -> None:
    servicer, target = flaky_server(down_for=100)
    with StoriesClient(target, "key") as client, pytest.raises(grpc.RpcError) as raised:
        client.create_job(stories_pb2.CreateJobRequest(text="One.", request_id="mine"))
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    assert len(servicer.requests) == 5
    assert {request.request_id for request in servicer.requests} == {"mine"}
