"""Texts people actually paste, end to end: one clean-up whichever way they come in."""

import json
from pathlib import Path

from stories.v1 import common_pb2, stories_pb2
from tests.api.conftest import start_api

WINDOWS_FILE = (
    "\ufeff# Volcanoes\r\n\r\n## Overview\r\n\r\nA volcano is an opening in the crust. "
    "Lava flows out of it.\r\n\r\n## Eruptions\r\rMagma rises. We met Dr. Ames at noon by "
    "the river.\r\nIt erupted at 9:30 a.m. on 2024-01-05.\r\n"
)


def test_the_same_file_gives_the_same_story_through_make_and_create_job(
    run_stories, tmp_path: Path
) -> None:
    source = tmp_path / "windows.txt"
    source.write_bytes(WINDOWS_FILE.encode("utf-8"))
    made = run_stories(
        "make", str(source), "--type", "educational", "--pictures", "3", "--audio", "none",
        "--out", str(tmp_path / "made"), "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    made_job = json.loads(made.stdout)

    with start_api(tmp_path / "api") as api:
        created = api.create(
            text=source.read_bytes().decode("utf-8"),
            content_type="educational",
            pictures=3,
            audio_type=common_pb2.AUDIO_TYPE_NONE,
            backend="local",
        )
        api.wait(created.id)
        served = api.stub.GetJob(
            stories_pb2.GetJobRequest(job_id=created.id), metadata=api.auth(api.acme)
        ).job

    recorded = made_job["text"]
    assert recorded == served.text
    assert "\r" not in recorded and not recorded.startswith("\ufeff")
    assert (made_job["language"], served.language) == ("en", "en")
    assert (made_job["title"], served.title) == ("Volcanoes", "Volcanoes")
    made_segments = [(s["start"], s["end"], s["title"], s["text"]) for s in made_job["segments"]]
    served_segments = [(s.start_offset, s.end_offset, s.title, s.text) for s in served.segments]
    assert made_segments == served_segments
    assert made_segments[0][2] == "Volcanoes"
    for start, end, _, text in made_segments:
        assert recorded[start:end] == text
    assert not any(text.endswith("Dr.") for _, _, _, text in made_segments)
    page = (tmp_path / "made" / "story.html").read_text(encoding="utf-8")
    assert '<html lang="en" dir="ltr">' in page
