"""The example third-party plugin, installed as a user would, adds a working style."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES


@pytest.fixture(scope="module")
def bedtime_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the example package (offline) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / "stories-bedtime"
    shutil.copytree(EXAMPLES / "stories-bedtime", source)  # builds leave files behind
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--target", str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


def test_the_plugin_is_listed_with_its_version(run_stories, bedtime_site: Path) -> None:
    result = run_stories("plugins", "--json", env={"PYTHONPATH": str(bedtime_site)})
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["bedtime"] == {
        "name": "bedtime",
        "version": "1.0.0",
        "content_styles": ["bedtime"],
        "backends": [],
    }
    assert "educational" in plugins


def test_a_story_in_the_new_style(run_stories, bedtime_site: Path) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "bedtime.txt"), "--type", "bedtime", "--pictures", "2",
        "--out", "out", "--json", env={"PYTHONPATH": str(bedtime_site)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["content_type"] == "bedtime"
    audio = next(a for a in job["segments"][0]["assets"] if a["kind"] == "audio")
    narration = audio["metadata"]["narration"]
    assert narration.startswith("narrator: Once upon a time")


def test_without_the_plugin_the_style_is_unknown(run_stories) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "bedtime.txt"), "--type", "bedtime", "--pictures", "2"
    )
    assert result.returncode == 2
    assert "content_type: unknown value 'bedtime'" in result.stderr
