"""Conversions to stories.v1 messages that the in-process service tests do not pin down."""

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from stories_adapters.grpc.mapping import timestamp


@given(st.datetimes(timezones=st.timezones()))
def test_timestamps_match_protobufs_own_conversion(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment.astimezone(UTC))
    assert timestamp(moment) == expected


def test_no_moment_is_no_timestamp() -> None:
    assert timestamp(None) is None
