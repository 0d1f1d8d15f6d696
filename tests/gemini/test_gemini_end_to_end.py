"""A whole job on the gemini backend, against the fake Gemini API: through `stories make`
(a separate process) and through the gRPC API's create request."""

import io
import json

import grpc
import pytest
import soundfile
from fake_gemini_api import FAKE_API_KEY, FakeGemini, unavailable
from PIL import Image

from stories.v1 import common_pb2, events_pb2, stories_pb2
from tests.api.conftest import start_api
from tests.e2e.conftest import EXAMPLES


def test_make_a_story_with_gemini(run_stories, fake_gemini: FakeGemini, tmp_path) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "3", "--audio", "podcast", "--backend", "gemini", "--out", "out", "--json",
        env=fake_gemini.environ(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["backend"] == "gemini" and len(job["segments"]) == 3
    for segment in job["segments"]:
        assets = {a["kind"]: a for a in segment["assets"]}
        audio, image = assets["audio"], assets["image"]
        samples, rate = soundfile.read(io.BytesIO((tmp_path / "out" / audio["path"]).read_bytes()))
        assert abs(len(samples) / rate - audio["metadata"]["duration_seconds"]) < 0.2
        assert audio["metadata"]["model"] == "gemini-tts-test"
        assert len(set(audio["metadata"]["voices"].values())) == 2, "two hosts, two voices"
        with Image.open(tmp_path / "out" / image["path"]) as picture:
            assert (picture.width, picture.height) == (
                image["metadata"]["width"],
                image["metadata"]["height"],
            )
        assert image["metadata"]["model"]
    assert FAKE_API_KEY not in result.stdout + result.stderr
    stored = (tmp_path / "out" / "story.json").read_text()
    assert FAKE_API_KEY not in stored, "the key is never stored with a job"
    assert fake_gemini.requests_to("generateContent"), "the real client reached the fake"


def test_when_retries_run_out_the_job_fails_retryably(run_stories, fake_gemini: FakeGemini) -> None:
    fake_gemini.always(unavailable())
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "gemini", "--out", "out",
        env=fake_gemini.environ(),
    )  # fmt: skip
    assert result.returncode == 1
    assert "BACKEND_UNAVAILABLE" in result.stderr
    assert len(fake_gemini.requests) == 3, "bounded retries, then the job fails"


def test_the_api_creates_a_gemini_job(
    fake_gemini: FakeGemini, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake_gemini.environ().items():
        monkeypatch.setenv(name, value)
    with start_api(tmp_path) as api:
        job = api.create(
            text=(EXAMPLES / "quarterly-report.txt").read_text(),
            content_type="financial",
            pictures=2,
            backend="gemini",
        )
        events = api.wait(job.id)
        assert events[-1].event.kind == events_pb2.JOB_EVENT_KIND_SUCCEEDED
        done = api.get(job.id)
        assert done.backend == "gemini" and done.state == common_pb2.JOB_STATE_SUCCEEDED
        capabilities = api.stub.ListCapabilities(
            stories_pb2.ListCapabilitiesRequest(), metadata=api.auth(api.acme)
        )
        assert "gemini" in {b.name for b in capabilities.backends}
        with pytest.raises(grpc.RpcError):
            api.get(job.id, key=api.globex)


def test_gemini_without_a_key_is_bad_input_naming_the_setting(run_stories) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "gemini", "--out", "out",
        env={"STORIES_GEMINI_API_KEY": ""},
    )  # fmt: skip
    assert result.returncode == 2
    assert "backend: 'gemini' is not available" in result.stderr
    assert "STORIES_GEMINI_API_KEY" in result.stderr
