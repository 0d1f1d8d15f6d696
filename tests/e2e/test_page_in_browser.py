"""The story page in a real browser (Debian's headless Chromium): a right-to-left story is
laid out right to left, a left-to-right one left to right."""

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tests.e2e.test_real_world_text import make

WIDTH = 900


def screenshot(page: Path, tmp_path: Path) -> Image.Image:
    """A 900-pixel-wide screenshot of the page, as the browser laid it out."""
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is needed for page tests (.ci/run installs Debian's chromium)"
    shot = tmp_path / f"{page.parent.name}.png"
    subprocess.run(
        [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={shot}",
            f"--window-size={WIDTH},900", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return Image.open(shot).convert("L")


def heading_extent(image: Image.Image) -> tuple[int, int]:
    """Left and right edge of the first line of dark text (the gray header line is not
    dark): the first part's <h2>."""
    width, height = image.size
    pixels = image.load()
    rows = [y for y in range(height) if any(pixels[x, y] < 80 for x in range(0, width - 20, 2))]
    line = [rows[0]]
    for y in rows[1:]:
        if y - line[-1] > 2:
            break
        line.append(y)
    dark = [x for y in line for x in range(0, width - 20) if pixels[x, y] < 80]
    return min(dark), max(dark)


def test_a_right_to_left_story_reads_right_to_left_in_the_browser(
    run_stories, tmp_path: Path
) -> None:
    arabic = make(
        run_stories, tmp_path, "ar", "# القمر\n\nيدور القمر حول الأرض. يسحب البحر مرتين كل يوم.",
        "-t", "educational", "-n", "1", "--audio", "none",
    )  # fmt: skip
    english = make(
        run_stories, tmp_path, "en", "# Moon\n\nThe Moon circles the Earth. It pulls the sea.",
        "-t", "educational", "-n", "1", "--audio", "none",
    )  # fmt: skip
    rtl_left, rtl_right = heading_extent(screenshot(arabic["out"] / "story.html", tmp_path))
    ltr_left, ltr_right = heading_extent(screenshot(english["out"] / "story.html", tmp_path))
    # The same column, headings at opposite sides of it.
    assert abs(rtl_right - (WIDTH - ltr_left)) < 60, (rtl_left, rtl_right, ltr_left, ltr_right)
    assert rtl_left > WIDTH / 2 and ltr_right < WIDTH / 2
