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
from stories_adapters.video import CaptionPainter, render_video
from stories_core import markup
from stories_core.model import Asset, Job
from stories_core.text import plain, plain_inline, text_direction
from stories_core.video import Scene, VideoOptions, job_captions, scene_cues, scenes

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
    job: Job,
    read_asset: AssetReader,
    out_dir: Path,
    video: tuple[VideoOptions, CaptionPainter] | None = None,
    video_progress: Callable[[float], None] | None = None,
) -> StoryFiles:
    """Copy every asset into out_dir/assets and write the documents beside them: markup,
    JSON, the page, the captions, and last story.mp4 when `video` gives its options (and
    how to draw burned-in captions). The video is written under a temporary name and
    renamed when complete, so a failed render leaves no broken story.mp4."""
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
    files.markup.write_text(document, encoding="utf-8")
    files.json.write_text(
        json.dumps(job_to_dict(job, relative), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    video_path = files.video.name if files.video else None
    files.html.write_text(render_html(job, document, relative, video_path), encoding="utf-8")
    if files.video and video:
        partial = files.video.with_suffix(".mp4.part")
        try:
            render_video(job, read_asset, partial, *video, progress=video_progress)
            partial.replace(files.video)
        finally:
            partial.unlink(missing_ok=True)
    return files


def render_html(
    job: Job,
    document: str,
    asset_paths: dict[str, str],
    video_path: str | None = None,
) -> str:
    """A page a person opens to read the story, built from the markup itself: the video
    on top when there is one (its captions in the page, as a text track: a <track> file
    does not load from a page opened from disk), then each part with its
    picture, its narration and the narration's words, which follow the voice (read-along:
    the sentence being spoken is highlighted, from the audio's timings; a click on a
    sentence plays from there)."""
    parsed = markup.parse(document)
    title = job.story_title or "Story"
    timeline = {scene.index: scene for scene in scenes(job)}
    by_id = {segment.id: segment for segment in job.segments}
    sections = []
    for segment in parsed.segments:
        paragraphs = _segment_html(segment.text, segment.title)
        media = ""
        if segment.image_asset_id and segment.image_asset_id in asset_paths:
            media += (
                f'<img src="{html.escape(asset_paths[segment.image_asset_id])}" '
                f'alt="{html.escape(segment.title)}">'
            )
        scene = (
            timeline.get(by_id[segment.segment_id].index) if segment.segment_id in by_id else None
        )
        if segment.audio_asset_id and segment.audio_asset_id in asset_paths:
            media += (
                f'<audio controls preload="metadata" '
                f'src="{html.escape(asset_paths[segment.audio_asset_id])}"></audio>'
            )
            if scene is not None and scene.audio is not None:
                media += _transcript(scene)
                if _letters(" ".join(s.text for s in scene.timings.sentences)) == _letters(
                    plain(by_id[segment.segment_id].text)
                ):
                    paragraphs = ""  # read as written: the transcript is the text
        start = f' data-start="{scene.start:.3f}"' if scene is not None else ""
        sections.append(
            f'<section id="{html.escape(segment.segment_id)}"{start}>'
            f"<h2>{html.escape(segment.title)}</h2>{media}{paragraphs}</section>"
        )
    video = ""
    if video_path:
        cues = [
            {"start": c.start, "end": c.end, "text": "\n".join(c.lines), "voice": c.speaker}
            for c in scene_cues(job)
        ]
        # JSON inside <script>: "</" would end the element, so it is written "<\/".
        data = json.dumps(cues, ensure_ascii=False).replace("</", "<\\/")
        first = next((p for p in parsed.segments if p.image_asset_id in asset_paths), None)
        poster = f' poster="{html.escape(asset_paths[first.image_asset_id])}"' if first else ""
        video = (
            f'<video id="story-video" controls preload="metadata" playsinline{poster} '
            f'src="{html.escape(video_path)}"></video>'
            f'<script type="application/json" id="story-captions">{data}</script>'
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
        body=video + "\n" + "\n".join(sections),
        # Only a page with something to play has something to follow.
        script=_READ_ALONG if video or "<audio " in "".join(sections) else "",
    )


def _letters(text: str) -> str:
    """Only the letters and digits of a text, lower-cased: two texts that say the same."""
    return "".join(char for char in text.casefold() if char.isalnum())


def _transcript(scene: Scene) -> str:
    """The narration as said, one paragraph per line (a podcast's turn, with its speaker),
    each sentence with when it is heard, seconds from the start of the part's audio."""
    lines: dict[int, list[str]] = {}
    speakers: dict[int, str] = {}
    voices = {span.role for span in scene.timings.sentences}
    for span in scene.timings.sentences:
        lines.setdefault(span.line, []).append(
            f'<span class="sentence" data-start="{span.start:.3f}" data-end="{span.end:.3f}">'
            f"{html.escape(span.text)}</span>"
        )
        speakers[span.line] = span.speaker or span.role
    paragraphs = "".join(
        "<p>"
        + (f"<b>{html.escape(speakers[line])}:</b> " if len(voices) > 1 else "")
        + " ".join(spans)
        + "</p>"
        for line, spans in lines.items()
    )
    return f'<div class="transcript">{paragraphs}</div>'


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
video {{ width: 100%; border-radius: 6px; margin-bottom: 2rem; background: #000; }}
.transcript {{ font-family: system-ui, sans-serif; font-size: 16px; color: #374151; }}
.transcript .sentence {{ cursor: pointer; border-radius: 3px; transition: background .15s; }}
.transcript .sentence:hover {{ background: #e5e7eb; }}
.transcript .sentence.speaking {{ background: #fde68a; color: #111827; }}
</style>
</head>
<body>
<header lang="en" dir="ltr">{about}, made by stories.</header>
{heading}
{body}
{script}
</body>
</html>
"""

# Read-along: while a part's audio (or the story's video) plays, the sentence being heard
# is marked `speaking`; a click on a sentence plays the part's audio from it.
_READ_ALONG = """<script>
(() => {
  const sections = [...document.querySelectorAll("section")].map((section) => ({
    start: parseFloat(section.dataset.start || "0"),
    audio: section.querySelector("audio"),
    sentences: [...section.querySelectorAll(".sentence")].map((element) => ({
      element, start: parseFloat(element.dataset.start), end: parseFloat(element.dataset.end),
    })),
  }));
  const video = document.getElementById("story-video");
  let current = null;
  const mark = (part, seconds) => {
    const found = part && part.sentences.find((s) => s.start <= seconds && seconds < s.end);
    const element = found ? found.element : null;
    if (element === current) return;
    if (current) current.classList.remove("speaking");
    if (element) element.classList.add("speaking");
    current = element;
  };
  for (const part of sections) {
    if (!part.audio) continue;
    part.audio.addEventListener("timeupdate", () => mark(part, part.audio.currentTime));
    part.audio.addEventListener("ended", () => mark(null, 0));
    for (const sentence of part.sentences) {
      sentence.element.addEventListener("click", () => {
        if (video && !video.paused) {  // the story is playing: go there, no second voice
          video.currentTime = part.start + sentence.start;
          return;
        }
        part.audio.currentTime = sentence.start;
        part.audio.play();
      });
    }
  }
  if (video) {
    const track = video.addTextTrack("captions", "Captions", document.documentElement.lang);
    for (const cue of JSON.parse(document.getElementById("story-captions").textContent)) {
      track.addCue(new VTTCue(cue.start, cue.end, (cue.voice ? cue.voice + ": " : "") + cue.text));
    }
    track.mode = "showing";
    video.addEventListener("timeupdate", () => {
      const t = video.currentTime;
      const part = [...sections].reverse().find((p) => p.start <= t);
      mark(part, t - (part ? part.start : 0));
    });
  }
})();
</script>"""
