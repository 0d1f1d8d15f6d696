"""Render a story as `[[SEGMENT]]` markup and parse it back; parse(render(d)) == d.

Within a segment's text, a line that starts with `[[` or `\\` is escaped with a leading
backslash, so the text can never be mistaken for a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stories_core.errors import InvalidInput
from stories_core.model import AssetKind, Job

_OPEN = re.compile(r"^\[\[SEGMENT id=(?P<id>[^\s\]]+)\]\]$")
_ASSET = re.compile(r"^\[\[(?P<kind>IMAGE|AUDIO) asset_id=(?P<id>[^\s\]]+)\]\]$")
_CLOSE = "[[/SEGMENT]]"


@dataclass(frozen=True)
class MarkupSegment:
    segment_id: str
    title: str
    text: str
    image_asset_id: str | None = None
    audio_asset_id: str | None = None


@dataclass(frozen=True)
class StoryDocument:
    segments: tuple[MarkupSegment, ...]


def document_for(job: Job) -> StoryDocument:
    """The document of a job's segments, with the ids of their image and audio assets."""
    segments = []
    for segment in sorted(job.segments, key=lambda s: s.index):
        image = segment.asset(AssetKind.IMAGE)
        audio = segment.asset(AssetKind.AUDIO)
        segments.append(
            MarkupSegment(
                segment_id=segment.id,
                title=segment.title,
                text=segment.text,
                image_asset_id=image.id if image else None,
                audio_asset_id=audio.id if audio else None,
            )
        )
    return StoryDocument(tuple(segments))


def render(document: StoryDocument) -> str:
    blocks = []
    for segment in document.segments:
        lines = [f"[[SEGMENT id={segment.segment_id}]]", f"# {segment.title}", ""]
        lines += [_escape(line) for line in segment.text.split("\n")]
        lines.append("")
        if segment.image_asset_id:
            lines.append(f"[[IMAGE asset_id={segment.image_asset_id}]]")
        if segment.audio_asset_id:
            lines.append(f"[[AUDIO asset_id={segment.audio_asset_id}]]")
        lines.append(_CLOSE)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def parse(markup: str) -> StoryDocument:
    """Parse a rendered document; a malformed one is an InvalidInput naming the line."""
    lines = markup.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    segments: list[MarkupSegment] = []
    i = 0
    while i < len(lines):
        if lines[i] == "":
            i += 1
            continue
        segment, i = _parse_segment(lines, i)
        segments.append(segment)
    return StoryDocument(tuple(segments))


def _parse_segment(lines: list[str], i: int) -> tuple[MarkupSegment, int]:
    opened = _OPEN.match(lines[i])
    if not opened:
        _fail(i, "expected [[SEGMENT id=...]]")
    if i + 2 >= len(lines) or not lines[i + 1].startswith("# ") or lines[i + 2] != "":
        _fail(i + 1, "expected '# <title>' and a blank line after [[SEGMENT]]")
    title = lines[i + 1][2:]
    j = i + 3
    text_lines = []
    while j < len(lines) and not lines[j].startswith("[["):
        text_lines.append(_unescape(lines[j]))
        j += 1
    if not text_lines or text_lines[-1] != "":
        _fail(j, "expected a blank line after the segment text")
    text = "\n".join(text_lines[:-1])
    assets: dict[str, str] = {}
    while j < len(lines) and (asset := _ASSET.match(lines[j])):
        if asset["kind"] in assets:
            _fail(j, f"a second {asset['kind']} tag in one segment")
        assets[asset["kind"]] = asset["id"]
        j += 1
    if j >= len(lines) or lines[j] != _CLOSE:
        _fail(j, "expected [[/SEGMENT]]")
    segment = MarkupSegment(
        segment_id=opened["id"],
        title=title,
        text=text,
        image_asset_id=assets.get("IMAGE"),
        audio_asset_id=assets.get("AUDIO"),
    )
    return segment, j + 1


def _escape(line: str) -> str:
    return "\\" + line if line.startswith(("[[", "\\")) else line


def _unescape(line: str) -> str:
    return line[1:] if line.startswith("\\") else line


def _fail(index: int, message: str) -> None:
    raise InvalidInput("markup", f"line {index + 1}: {message}")
