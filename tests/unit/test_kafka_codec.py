"""The doorbell decoder: anything that is not a JobMessage naming one of our jobs is a
poison message, told in our words with no more than a short escaped prefix of the value."""

from __future__ import annotations

import pytest

from stories.v1 import queue_pb2
from stories_adapters.kafka.codec import UndecodableMessage, decode_job_message
from stories_core.model import new_id

JOB_ID = "5f0c6a8e-3b1d-4c2e-9a7f-0123456789ab"


def doorbell(job_id: str = JOB_ID, trace_id: str = "") -> bytes:
    return queue_pb2.JobMessage(job_id=job_id, trace_id=trace_id).SerializeToString()


@pytest.mark.parametrize(
    "trace_id", ["", new_id().replace("-", ""), "caller-trace_1", "x" * 64], ids=repr
)
def test_a_doorbell_for_one_of_our_jobs_decodes(trace_id: str) -> None:
    message = decode_job_message(doorbell(new_id(), trace_id))
    assert message.trace_id == trace_id


@pytest.mark.parametrize(
    "value, said",
    [
        (b"\xff\xfe not a protobuf", "not a stories.v1.JobMessage"),
        (None, "without a job_id"),
        (doorbell(""), "without a job_id"),
        (doorbell("job-1"), "job_id is not a job id: 'job-1'"),
        (doorbell(JOB_ID.upper()), "job_id is not a job id"),
        (doorbell(JOB_ID + "\n"), "job_id is not a job id"),
        (doorbell(" " + JOB_ID), "job_id is not a job id"),
        (doorbell(trace_id="x" * 65), "trace_id is not a trace id: 'xxxxxxxxxxxxxxxxxxxxxxxx'..."),
        (doorbell(trace_id="a b"), "trace_id is not a trace id: 'a b'"),
    ],
)
def test_anything_else_is_undecodable(value: bytes | None, said: str) -> None:
    with pytest.raises(UndecodableMessage) as caught:
        decode_job_message(value)
    assert said in str(caught.value)


def test_a_bad_id_is_shown_short_and_escaped() -> None:
    injected = JOB_ID[:8] + "\x00'; DELETE FROM jobs; --" + "\u202e" * 3 + "z" * 5000
    with pytest.raises(UndecodableMessage) as caught:
        decode_job_message(doorbell(injected))
    said = str(caught.value)
    assert said.isascii() and said.isprintable()
    assert "\\x00" in said and "DELETE FROM jobs" not in said
    assert said.endswith(f"... ({len(injected):,} characters)") and len(said) < 150


def test_a_bad_trace_id_is_shown_escaped() -> None:
    with pytest.raises(UndecodableMessage) as caught:
        decode_job_message(doorbell(trace_id="t\r\nX-Evil: 1"))
    said = str(caught.value)
    assert said.isprintable() and "'t\\r\\nX-Evil: 1'" in said
