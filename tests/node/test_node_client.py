"""Another language can use the API: a Node.js client creates a job, watches it to the
end and reads an asset's bytes, against the real server."""

import json
import shutil
import subprocess
from pathlib import Path

from tests.api.conftest import start_api
from tests.decoded_errors import assert_every_detail_decoded

ROOT = Path(__file__).resolve().parents[2]


def test_a_node_client_makes_a_story(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for this test"
    assert (ROOT / "node_modules" / "@grpc" / "grpc-js").exists(), "run `npm ci` first"
    with start_api(tmp_path) as api:
        result = subprocess.run(
            [node, str(ROOT / "tests" / "node" / "client.mjs"), api.target, api.acme,
             str(ROOT / "examples" / "solar-system.txt")],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["state"] == "JOB_STATE_SUCCEEDED"
        assert summary["events"][-1] == "JOB_EVENT_KIND_SUCCEEDED"
        assert "JOB_EVENT_KIND_SEGMENT_DONE" in summary["events"]
        assert summary["segments"] == 2
        assert summary["image_size"] == summary["image_expected_size"] > 1000
        assert summary["image_checksum_ok"] and summary["png"]


def test_a_node_client_decodes_every_errors_details_from_the_published_protos(
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for this test"
    with start_api(tmp_path, with_worker=False) as api:
        result = subprocess.run(
            [node, str(ROOT / "examples" / "clients" / "node" / "errors.mjs"), api.target,
             api.acme],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    statuses = {s["call"]: s for s in map(json.loads, result.stdout.splitlines())}
    assert_every_detail_decoded(statuses)
