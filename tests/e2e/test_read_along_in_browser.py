"""The story page plays in a real browser (Debian's headless Chromium, driven over the
DevTools protocol): the video and a part's audio load and play without a media error, with
the durations story.json gives, and the highlighted sentence follows the voice."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import webvtt
from websockets.sync.client import connect

from tests.e2e.conftest import EXAMPLES

pytestmark = pytest.mark.slow

PLAY = """
(async () => {
  const wait = (ms) => new Promise((done) => setTimeout(done, ms));
  const loaded = (media) => new Promise((done) => {
    if (media.readyState >= 1 || media.error) return done();
    media.addEventListener("loadedmetadata", done);
    media.addEventListener("error", done);
  });
  const report = {};
  const video = document.getElementById("story-video");
  await loaded(video);
  await video.play().catch((error) => { report.videoRefused = String(error); });
  await wait(1200);
  const onScreen = video.textTracks[0] && video.textTracks[0].activeCues;
  report.shown = onScreen && onScreen.length ? onScreen[0].text : null;
  video.pause();
  const track = video.textTracks[0];
  report.video = {
    error: video.error && video.error.code, duration: video.duration,
    played: video.currentTime, tracks: video.textTracks.length,
    cues: track ? track.cues.length : 0, showing: track ? track.mode : null,
  };
  const audio = document.querySelector("section audio");
  await loaded(audio);
  await audio.play().catch((error) => { report.audioRefused = String(error); });
  const heard = [];
  for (let i = 0; i < 40; i++) {
    await wait(150);
    const speaking = document.querySelector(".sentence.speaking");
    heard.push(speaking ? parseFloat(speaking.dataset.start) : null);
  }
  report.audio = {
    error: audio.error && audio.error.code, duration: audio.duration, played: audio.currentTime,
  };
  report.heard = heard;
  const sentences = document.querySelector("section").querySelectorAll(".sentence");
  const chosen = sentences[sentences.length - 1];
  chosen.click();
  await wait(400);
  report.clicked = {
    start: parseFloat(chosen.dataset.start), at: audio.currentTime,
    speaking: chosen.classList.contains("speaking"),
  };
  audio.pause();
  return report;
})()
"""


def in_browser(page: Path, expression: str, tmp_path: Path) -> dict:
    """Open `page` in headless Chromium and evaluate `expression` (a promise) in it."""
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is needed for page tests (.ci/run installs Debian's chromium)"
    profile = tmp_path / "chromium-profile"
    browser = subprocess.Popen(
        [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
            f"--user-data-dir={profile}", page.as_uri(),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                pages = [p for p in json.load(answer) if p["type"] == "page"]
            if pages and pages[0]["url"] == page.as_uri():
                break
            assert time.monotonic() < deadline, pages
            time.sleep(0.1)
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            calls = iter(range(1, 1_000_000))

            def evaluate(source: str) -> dict:
                call = next(calls)
                params = {"expression": source, "awaitPromise": True, "returnByValue": True}
                socket.send(
                    json.dumps({"id": call, "method": "Runtime.evaluate", "params": params})
                )
                while (message := json.loads(socket.recv(timeout=60))).get("id") != call:
                    pass
                return message

            # The list names the page's URL before its document replaces about:blank.
            loaded = f'document.readyState === "complete" && location.href === "{page.as_uri()}"'
            while not evaluate(loaded)["result"]["result"]["value"]:
                assert time.monotonic() < deadline, "the page did not load"
                time.sleep(0.1)
            message = evaluate(expression)
        assert "result" in message, message
        result = message["result"]
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"]["value"]
    finally:
        browser.terminate()
        browser.wait(30)


def test_the_page_plays_its_video_and_highlights_the_sentence_being_spoken(
    run_stories, tmp_path: Path
) -> None:
    out = tmp_path / "story"
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "2", "--audio", "podcast", "--out", str(out), "--video",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads((out / "story.json").read_text())
    narrations = [
        next(a for a in s["assets"] if a["kind"] == "audio")["metadata"] for s in job["segments"]
    ]

    report = in_browser(out / "story.html", PLAY, tmp_path)

    assert "videoRefused" not in report and "audioRefused" not in report, report
    video, audio = report["video"], report["audio"]
    assert video["error"] is None and audio["error"] is None, report
    assert abs(video["duration"] - sum(n["duration_seconds"] for n in narrations)) < 0.1
    assert video["played"] > 0.5 and video["tracks"] == 1
    cues = list(webvtt.read(out / "story.vtt"))
    assert video["cues"] == len(cues) and video["showing"] == "showing"
    assert report["shown"] == f"{cues[0].voice}: {cues[0].text}", "the first cue, on screen"
    assert abs(audio["duration"] - narrations[0]["duration_seconds"]) < 0.15
    assert audio["played"] > 3
    starts = [s["start"] for s in narrations[0]["sentences"]]
    heard = [start for start in report["heard"] if start is not None]
    assert heard and all(start in starts for start in heard)
    assert len(set(heard)) >= 2, "the highlight moves on as the voice does"
    assert heard == sorted(heard)
    clicked = report["clicked"]
    assert clicked["speaking"] and clicked["start"] <= clicked["at"] < clicked["start"] + 1.0
