"""Bad input: exit status 2, one clear message naming the problem, nothing written."""

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES

GOOD = str(EXAMPLES / "solar-system.txt")


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["--type", "educational", "--pictures", "2"], b"   \n\n ", "text: is empty"),
        (["--type", "educational", "--pictures", "2"], b"x" * 50_001, "text: has 50,001"),
        (["--type", "educational", "--pictures", "0"], None, "pictures: must be between 1"),
        (["--type", "educational", "--pictures", "21"], None, "pictures: must be between 1"),
        (["--type", "poetry", "--pictures", "2"], None, "content_type: unknown value 'poetry'"),
        (["--type", "educational", "--pictures", "2", "--backend", "nope"], None, "backend:"),
        (
            ["--type", "educational", "--pictures", "2", "--audio", "opera"],
            None,
            "audio_type: unknown value 'opera'",
        ),
        (["--type", "educational", "--pictures", "2"], b"caf\xe9 \xff", "not UTF-8"),
        (["--type", "educational", "--pictures", "two"], None, "Invalid value for '--pictures'"),
    ],
)
def test_bad_input(run_stories, tmp_path: Path, args, content, message) -> None:
    source = GOOD
    if content is not None:
        source = str(tmp_path / "input.txt")
        Path(source).write_bytes(content)
    result = run_stories("make", source, *args, "--out", "out")
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob("story-*"))


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-file", "--out: 'a-file' is a file, not a folder"),
        ("full", "--out: 'full' exists and is not empty"),
        ("a-file/inside", "--out: cannot create 'a-file/inside'"),
    ],
)
def test_an_unusable_out_folder_is_refused_before_any_work(
    run_stories, tmp_path: Path, out: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = run_stories("make", GOOD, "--type", "educational", "--pictures", "2", "--out", out)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "stories.db").exists(), "no job was recorded"


def test_a_missing_file(run_stories, tmp_path: Path) -> None:
    result = run_stories("make", "missing.txt", "--type", "educational", "--pictures", "2")
    assert result.returncode == 2
    assert "INPUT: cannot read 'missing.txt'" in result.stderr


def test_limits_come_from_settings(run_stories, tmp_path: Path) -> None:
    result = run_stories(
        "make", GOOD, "--type", "educational", "--pictures", "4", "--out", "out",
        env={"STORIES_MAX_PICTURES": "3"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "pictures: must be between 1 and 3, got 4" in result.stderr


def test_a_bad_setting_is_named_and_nothing_starts(run_stories) -> None:
    result = run_stories("serve", env={"STORIES_GRPC_MAX_STREAMS": "0"})
    assert result.returncode == 2
    assert "STORIES_GRPC_MAX_STREAMS: Input should be greater than or equal to 1" in result.stderr
    result = run_stories("plugins", env={"STORIES_LOG_LEVEL": "bogus"})
    assert result.returncode == 2
    assert "STORIES_LOG_LEVEL: Value error, must be one of DEBUG" in result.stderr
    result = run_stories("serve", env={"STORIES_WEBHOOK_SECRET": ""})
    assert result.returncode == 2
    assert "STORIES_WEBHOOK_SECRET: Value should have at least 1" in result.stderr


def test_a_server_whose_default_backend_cannot_start_does_not_start(run_stories) -> None:
    result = run_stories("serve", "--port", "0", env={"STORIES_LOCAL_IMAGE_WIDTH": "10"})
    assert result.returncode == 2
    assert "the default backend 'local' (STORIES_DEFAULT_BACKEND) cannot start" in result.stderr
    assert "STORIES_LOCAL_IMAGE_WIDTH" in result.stderr and "listening" not in result.stderr
    without_key = {"STORIES_DEFAULT_BACKEND": "gemini", "STORIES_GEMINI_API_KEY": ""}
    result = run_stories("serve", "--port", "0", env=without_key)
    assert result.returncode == 2
    assert "STORIES_GEMINI_API_KEY is not set" in result.stderr


def test_plugins_lists_first_party_plugins_with_versions(run_stories) -> None:
    result = run_stories("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["educational"]["content_styles"] == ["educational"]
    assert plugins["local"]["backends"] == ["local"]
    assert plugins["gemini"]["backends"] == ["gemini"]
    assert all(plugins[name]["version"] for name in ("educational", "financial", "local"))
