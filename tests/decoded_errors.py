"""What a client in another language must print for the errors it provokes (the calls of
examples/clients/*/errors): each status's code and its details decoded from the published
protos, one JSON object per call."""

from __future__ import annotations


def assert_every_detail_decoded(statuses: dict[str, dict]) -> None:
    """`statuses`: the client's printed objects by their `call`."""
    create = statuses["create"]
    assert create["code"] == 3  # INVALID_ARGUMENT
    info, bad_request = create["details"]
    assert info["@type"] == "google.rpc.ErrorInfo" and info["reason"] == "INVALID_FIELD"
    assert info["domain"] == "stories.v1" and info["metadata"]["fields"] == (
        "text,pictures,content_type"
    )
    assert bad_request["@type"] == "google.rpc.BadRequest"
    assert [v["field"] for v in bad_request["field_violations"]] == [
        "text", "pictures", "content_type",
    ]  # fmt: skip
    missing = statuses["missing"]
    assert missing["code"] == 5 and missing["details"][0]["reason"] == "NOT_FOUND"
    view = statuses["view"]
    assert view["details"][1]["field_violations"][0]["field"] == "view"
