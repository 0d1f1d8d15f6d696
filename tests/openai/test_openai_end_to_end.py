"""A whole job on the openai backend, against the fake OpenAI-compatible server: through
`stories make` (a separate process) and through the gRPC API's create request."""

import io
import json

import av
import pytest
from fake_openai_api import FAKE_API_KEY, FakeOpenAI, server_error
from PIL import Image

from stories.v1 import common_pb2, events_pb2, stories_pb2
from tests.api.conftest import start_api
from tests.e2e.conftest import EXAMPLES
from tests.model_backends import audio_seconds


def test_make_a_podcast_story_with_openai(run_stories, fake_openai: FakeOpenAI, tmp_path) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "3", "--audio", "podcast", "--backend", "openai", "--out", "out", "--json",
        env=fake_openai.environ(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["backend"] == "openai" and len(job["segments"]) == 3
    for segment in job["segments"]:
        assets = {a["kind"]: a for a in segment["assets"]}
        audio, image = assets["audio"], assets["image"]
        data = (tmp_path / "out" / audio["path"]).read_bytes()
        assert abs(audio_seconds(data) - audio["metadata"]["duration_seconds"]) < 0.2
        with av.open(io.BytesIO(data)) as container:
            assert container.format.name == "mp3"
        assert audio["metadata"]["model"] == "tts-test"
        assert audio["metadata"]["voices"] == {"narrator": "voice-one", "second_host": "voice-two"}
        with Image.open(tmp_path / "out" / image["path"]) as picture:
            assert picture.format == "PNG"
            assert (picture.width, picture.height) == (640, 360)
            assert (picture.width, picture.height) == (
                image["metadata"]["width"],
                image["metadata"]["height"],
            )
        assert image["metadata"]["model"] == "image-test"
    assert FAKE_API_KEY not in result.stdout + result.stderr
    stored = (tmp_path / "out" / "story.json").read_text()
    assert FAKE_API_KEY not in stored, "the key is never stored with a job"
    voices = {r.body["voice"] for r in fake_openai.requests_to("speech")}
    assert voices == {"voice-one", "voice-two"}, "the real client reached the fake, two hosts"
    assert len(fake_openai.requests_to("images")) == 3
    assert len(fake_openai.requests_to("models")) == 1


def test_a_text_only_server_makes_a_whole_story(
    run_stories, fake_openai: FakeOpenAI, tmp_path
) -> None:
    fake_openai.models = {"text-test"}  # a chat server and nothing else
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "openai", "--out", "out", "--json",
        env=fake_openai.environ(speech="local", images="local"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    for segment in job["segments"]:
        assets = {a["kind"]: a for a in segment["assets"]}
        audio = (tmp_path / "out" / assets["audio"]["path"]).read_bytes()
        assert audio_seconds(audio) > 0.5
        with Image.open(tmp_path / "out" / assets["image"]["path"]) as picture:
            assert picture.format == "PNG"
    assert {r.kind for r in fake_openai.requests} == {"models", "chat"}


def test_when_retries_run_out_the_job_fails_retryably(run_stories, fake_openai: FakeOpenAI) -> None:
    fake_openai.always(server_error(503), kind="chat")
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "openai", "--out", "out",
        env=fake_openai.environ(),
    )  # fmt: skip
    assert result.returncode == 1
    assert "BACKEND_UNAVAILABLE" in result.stderr
    assert len(fake_openai.requests_to("chat")) == 3, "bounded retries, then the job fails"


def test_a_model_the_server_lacks_fails_the_job_up_front(
    run_stories, fake_openai: FakeOpenAI
) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "openai", "--out", "out",
        env=fake_openai.environ(image_model="dall-e-9"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "BACKEND_MISCONFIGURED" in result.stderr
    assert "'dall-e-9'" in result.stderr and fake_openai.base_url in result.stderr
    assert fake_openai.generation_requests == [], "failed before anything was generated"


def test_the_api_creates_an_openai_job(
    fake_openai: FakeOpenAI, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake_openai.environ().items():
        monkeypatch.setenv(name, value)
    with start_api(tmp_path) as api:
        job = api.create(
            text=(EXAMPLES / "quarterly-report.txt").read_text(),
            content_type="financial",
            pictures=2,
            backend="openai",
        )
        events = api.wait(job.id)
        assert events[-1].event.kind == events_pb2.JOB_EVENT_KIND_SUCCEEDED
        done = api.get(job.id)
        assert done.backend == "openai" and done.state == common_pb2.JOB_STATE_SUCCEEDED
        capabilities = api.stub.ListCapabilities(
            stories_pb2.ListCapabilitiesRequest(), metadata=api.auth(api.acme)
        )
        assert "openai" in {b.name for b in capabilities.backends}
    assert fake_openai.requests_to("speech") and fake_openai.requests_to("images")


def test_stories_plugins_lists_it(run_stories) -> None:
    result = run_stories("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["openai"]["backends"] == ["openai"]
    assert plugins["openai"]["version"]


def test_openai_without_a_key_is_bad_input_naming_the_setting(run_stories) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--backend", "openai", "--out", "out",
        env={"STORIES_OPENAI_API_KEY": "", "STORIES_OPENAI_BASE_URL": ""},
    )  # fmt: skip
    assert result.returncode == 2
    assert "backend: 'openai' is not available" in result.stderr
    assert "STORIES_OPENAI_API_KEY" in result.stderr
