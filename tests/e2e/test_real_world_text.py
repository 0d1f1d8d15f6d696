"""Texts people actually paste, end to end: one clean-up whichever way they come in."""

import io
import json
import unicodedata
from functools import cache
from pathlib import Path

import soundfile
from fontTools.ttLib import TTFont
from stories_local import fonts

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


def make(run_stories, tmp_path: Path, name: str, text: str, *args: str) -> dict:
    """`stories make` on `text` as a file; the story.json it wrote, with the out folder."""
    source = tmp_path / f"{name}.txt"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / name
    result = run_stories("make", str(source), *args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    job = json.loads((out / "story.json").read_text(encoding="utf-8"))
    job["out"] = out
    return job


def assets(job: dict, kind: str) -> list[dict]:
    return [a for s in job["segments"] for a in s["assets"] if a["kind"] == kind]


def assert_no_missing_glyphs(job: dict) -> None:
    """Every drawn character has a glyph in the fonts the picture says it used (fontTools
    reads the font's own character map), and every text box lies inside the picture."""
    for image in assets(job, "image"):
        meta = image["metadata"]
        assert meta["text_elements"], "the picture says what text it drew"
        for element in meta["text_elements"]:
            left, top, right, bottom = element["box"]
            assert 0 <= left < right <= meta["width"] and 0 <= top < bottom <= meta["height"]
            maps = [cmap(face["file"], face["index"]) for face in element["faces"]]
            for char in element["text"]:
                if not char.isspace() and unicodedata.category(char) != "Cf":
                    assert any(ord(char) in found for found in maps), (char, element)


@cache
def cmap(file: str, index: int) -> frozenset[int]:
    paths = {face.name: face.path for face in fonts.shipped_faces()}
    with TTFont(paths[file], fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap())


def test_chinese_is_cut_at_its_full_stops_spoken_in_mandarin_and_drawn(
    run_stories, tmp_path: Path
) -> None:
    text = "小猫早上离开了家。它走过一座小桥。它看见一条鱼。"
    job = make(run_stories, tmp_path, "zh", text, "--type", "educational", "--pictures", "3")
    assert job["language"] == "zh"
    assert [s["text"] for s in job["segments"]] == [
        "小猫早上离开了家。", "它走过一座小桥。", "它看见一条鱼。",
    ]  # fmt: skip
    for audio in assets(job, "audio"):
        assert audio["metadata"]["language"] == "zh"
        assert audio["metadata"]["voices"] == ["cmn"]
        assert "letter" not in audio["metadata"]["spoken_text"].lower()
        samples, rate = soundfile.read(io.BytesIO((job["out"] / audio["path"]).read_bytes()))
        assert len(samples) / rate > 1.0, "a sentence of Mandarin, not a blip"
    assert_no_missing_glyphs(job)
    page = (job["out"] / "story.html").read_text(encoding="utf-8")
    assert '<html lang="zh" dir="ltr">' in page


def test_amounts_and_dates_are_spoken_as_meant(run_stories, tmp_path: Path) -> None:
    text = "Sales reached $1.5M on 2024-01-05. Café in Zürich costs €5."
    job = make(
        run_stories, tmp_path, "sales", text, "-t", "financial", "-n", "1", "--audio", "verbatim"
    )
    (audio,) = assets(job, "audio")
    spoken = audio["metadata"]["spoken_text"]
    assert "one point five million dollars" in spoken
    assert "January fifth, twenty twenty-four" in spoken
    assert "five euros" in spoken
    for wrong in ("dollar one", " M ", "dash", "$", "€"):
        assert wrong not in spoken
    assert_no_missing_glyphs(job)


def test_arabic_is_right_to_left_on_the_page_and_shaped_in_the_picture(
    run_stories, tmp_path: Path
) -> None:
    text = "ذهب الولد إلى المدرسة في الصباح. هل رأيت القطة؟ نعم رأيتها في الحديقة."
    job = make(run_stories, tmp_path, "ar", text, "-t", "fictional", "-n", "2", "--audio", "none")
    assert job["language"] == "ar"
    assert job["segments"][0]["text"] == "ذهب الولد إلى المدرسة في الصباح."
    assert_no_missing_glyphs(job)
    page = (job["out"] / "story.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in page


def test_a_language_without_a_voice_is_refused_up_front_unless_audio_is_none(
    run_stories, tmp_path: Path
) -> None:
    source = tmp_path / "ja.txt"
    source.write_text("猫が家を出た。橋を渡った。", encoding="utf-8")
    refused = run_stories("make", str(source), "-t", "fictional", "-n", "2")
    assert refused.returncode == 2
    assert "audio_type: the 'local' backend has no voice for the language 'ja'" in refused.stderr
    assert not (tmp_path / "home" / "stories.db").exists(), "nothing recorded"
    job = make(
        run_stories,
        tmp_path,
        "ja",
        source.read_text(),
        "-t",
        "fictional",
        "-n",
        "2",
        "--audio",
        "none",
    )
    assert job["language"] == "ja" and assets(job, "audio") == []
    given = make(
        run_stories, tmp_path, "given", "Bonjour.", "-t", "fictional", "-n", "1",
        "--audio", "none", "--language", "fr-CA",
    )  # fmt: skip
    assert given["language"] == "fr-CA"


def test_the_page_shows_markdown_as_html_and_never_passes_raw_html(
    run_stories, tmp_path: Path
) -> None:
    text = (
        "# Coffee\n\nThe *Coffea* plant, see [the article](https://example.com/coffee). "
        "<script>alert(1)</script> A [trap](javascript:alert(1)) too.\n\n"
        "| Roast | Taste |\n|---|---|\n| Light | Bright |\n"
    )
    job = make(run_stories, tmp_path, "md", text, "-t", "educational", "-n", "1", "--audio", "none")
    page = (job["out"] / "story.html").read_text(encoding="utf-8")
    assert "<em>Coffea</em>" in page
    assert '<a href="https://example.com/coffee">the article</a>' in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert 'href="javascript:' not in page
    assert "<td>Light</td>" in page and "|---|" not in page
    assert page.count("Coffee</h2>") == 1 and "<p># Coffee" not in page
