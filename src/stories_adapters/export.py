"""Write a finished story to a folder: markup, job JSON, asset files and an HTML page."""

from __future__ import annotations

import html
import json
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from stories_adapters.subtitles import to_srt, to_webvtt
from stories_adapters.video import render_video
from stories_core import markup
from stories_core.model import Asset, Job
from stories_core.text import plain_inline, text_direction
from stories_core.video import VideoOptions, job_captions

AssetReader = Callable[[Asset], Iterator[bytes]]
_EXTENSIONS = {"audio/mpeg": "mp3", "image/png": "png", "audio/wav": "wav", "image/jpeg": "jpg"}


@dataclass(frozen=True)
class StoryFiles:
    markup: Path
    json: Path
    html: Path
    assets: dict[str, Path]
    video: Path | None
    captions: list[Path]
    """story.vtt and story.srt, then each segment's (assets/NN-captions.vtt, .srt); none
    for a story without audio."""


def asset_filename(job: Job, asset: Asset) -> str:
    index = next(s.index for s in job.segments if s.id == asset.segment_id)
    extension = _EXTENSIONS.get(asset.content_type) or (
        mimetypes.guess_extension(asset.content_type) or ".bin"
    ).lstrip(".")
    return f"{index:02d}-{asset.kind.value}.{extension}"


def job_to_dict(job: Job, asset_paths: dict[str, str] | None = None) -> dict[str, Any]:
    """The job as JSON: segments with offsets and titles, assets with path and metadata."""
    asset_paths = asset_paths or {}
    return {
        "id": job.id,
        "state": job.state.value,
        "content_type": job.content_type,
        "pictures": job.pictures,
        "audio_type": job.audio_type.value,
        "backend": job.backend,
        "language": job.language,
        "title": job.story_title,
        "trace_id": job.trace_id,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "progress": job.progress,
        "error": (
            {
                "code": job.error_code,
                "message": job.error_message,
                "retryable": job.error_retryable,
            }
            if job.error_code
            else None
        ),
        "text": job.text,
        "segment_count": len(job.segments),
        "segments": [
            {
                "id": segment.id,
                "index": segment.index,
                "title": segment.title,
                "start": segment.start,
                "end": segment.end,
                "state": segment.state.value,
                "text": segment.text,
                "assets": [
                    {
                        "id": asset.id,
                        "kind": asset.kind.value,
                        "path": asset_paths.get(asset.id, asset.key),
                        "content_type": asset.content_type,
                        "size": asset.size,
                        "checksum": asset.checksum,
                        "metadata": asset.metadata,
                    }
                    for asset in segment.assets
                ],
            }
            for segment in job.segments
        ],
    }


def write_story(
    job: Job, read_asset: AssetReader, out_dir: Path, video: VideoOptions | None = None
) -> StoryFiles:
    """Copy every asset into out_dir/assets and write the documents beside them: markup,
    JSON, the page, the captions, and story.mp4 when `video` gives its options."""
    assets_dir = out_dir / "assets"
    assets_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for segment in job.segments:
        for asset in segment.assets:
            path = assets_dir / asset_filename(job, asset)
            with path.open("wb") as handle:
                for chunk in read_asset(asset):
                    handle.write(chunk)
            paths[asset.id] = path
    relative = {asset_id: path.relative_to(out_dir).as_posix() for asset_id, path in paths.items()}
    document = job.markup or markup.render(markup.document_for(job))
    story, per_segment = job_captions(job)
    captions = []
    for stem, chosen in [
        (out_dir / "story", story),
        *((assets_dir / f"{index:02d}-captions", found) for index, found in per_segment.items()),
    ]:
        if chosen:
            for suffix, writer in ((".vtt", to_webvtt), (".srt", to_srt)):
                path = stem.with_suffix(suffix)
                path.write_text(writer(chosen), encoding="utf-8")
                captions.append(path)
    files = StoryFiles(
        markup=out_dir / "story.markup",
        json=out_dir / "story.json",
        html=out_dir / "story.html",
        assets=paths,
        video=out_dir / "story.mp4" if video else None,
        captions=captions,
    )
    if files.video and video:
        render_video(job, read_asset, files.video, video)
    files.markup.write_text(document, encoding="utf-8")
    files.json.write_text(
        json.dumps(job_to_dict(job, relative), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    files.html.write_text(render_html(job, document, relative), encoding="utf-8")
    return files


def render_html(job: Job, document: str, asset_paths: dict[str, str]) -> str:
    """A page a person opens to read the story, built from the markup itself."""
    parsed = markup.parse(document)
    title = job.story_title or "Story"
    sections = []
    for segment in parsed.segments:
        paragraphs = _segment_html(segment.text, segment.title)
        media = ""
        if segment.image_asset_id and segment.image_asset_id in asset_paths:
            media += (
                f'<img src="{html.escape(asset_paths[segment.image_asset_id])}" '
                f'alt="{html.escape(segment.title)}">'
            )
        if segment.audio_asset_id and segment.audio_asset_id in asset_paths:
            media += (
                f'<audio controls preload="none" '
                f'src="{html.escape(asset_paths[segment.audio_asset_id])}"></audio>'
            )
        sections.append(
            f'<section id="{html.escape(segment.segment_id)}">'
            f"<h2>{html.escape(segment.title)}</h2>{media}{paragraphs}</section>"
        )
    count = len(parsed.segments)
    article = "An" if job.content_type[:1].lower() in "aeiou" else "A"
    return _PAGE.format(
        lang=html.escape(job.language),
        dir=text_direction(job.language),
        title=html.escape(title),
        # The story's own title, unless the first part already shows it.
        heading=""
        if parsed.segments and parsed.segments[0].title == title
        else f"<h1>{html.escape(title)}</h1>",
        about=html.escape(
            f"{article} {job.content_type} story in {count} part{'s' if count != 1 else ''}"
        ),
        body="\n".join(sections),
    )


# The segment's markdown as HTML: raw HTML escaped, not passed through (a text may hold
# anything), links checked by markdown-it (no javascript: targets), line breaks kept.
_PROSE = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")


def _segment_html(text: str, title: str) -> str:
    """The segment's text as HTML under its own <h2>: its opening heading, or a plain
    title line, is that heading already and is left out; its other headings sit below."""
    tokens = _PROSE.parse(text)
    if len(tokens) >= 3 and tokens[1].type == "inline":
        first_line, _, rest = tokens[1].content.partition("\n")
        if tokens[0].type == "heading_open" and plain_inline(tokens[1].content) == title:
            tokens = tokens[3:]
        elif tokens[0].type == "paragraph_open" and plain_inline(first_line) == title:
            if rest.strip():
                tokens[1].content = rest
                tokens[1].children = _PROSE.parseInline(rest)[0].children
            else:
                tokens = tokens[3:]
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + 2)}"
    return _PROSE.renderer.render(tokens, _PROSE.options, {})


_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 18px/1.6 Georgia, "Noto Serif", "Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic",
       "Noto Sans Hebrew", "Noto Sans Devanagari", serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2937; background: #fafaf9; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d1d5db; padding: .2rem .6rem; }}
pre {{ overflow-x: auto; background: #f3f4f6; padding: .75rem; }}
header {{ color: #6b7280; font: 14px system-ui, sans-serif; margin-bottom: 2rem; }}
section {{ margin-bottom: 3rem; }}
h2 {{ font-family: system-ui, sans-serif; }}
img {{ width: 100%; height: auto; border-radius: 6px; box-shadow: 0 2px 8px #0002; }}
audio {{ width: 100%; margin: .75rem 0; }}
</style>
</head>
<body>
<header lang="en" dir="ltr">{about}, made by stories.</header>
{heading}
{body}
</body>
</html>
"""
