"""Caption files: WebVTT (W3C WebVTT, for the web and the page's <track>) and SubRip
(.srt, for video editors and players), written with webvtt-py and srt from the cues
`stories_core.captions` lays out."""

from __future__ import annotations

import html
from datetime import timedelta

import srt
import webvtt

from stories_core.captions import Cue


def to_webvtt(cues: list[Cue]) -> str:
    """A WebVTT file; a cue with a speaker starts with a voice span (`<v Alex>`)."""
    captions = [
        webvtt.Caption(
            _vtt_time(cue.start),
            _vtt_time(cue.end),
            # WebVTT cue text is markup: &, < and > are escaped.
            [
                (f"<v {html.escape(cue.speaker, quote=False)}>" if cue.speaker and i == 0 else "")
                + html.escape(line, quote=False)
                for i, line in enumerate(cue.lines)
            ],
        )
        for cue in cues
    ]
    return webvtt.WebVTT(captions=captions).content


def to_srt(cues: list[Cue]) -> str:
    """A SubRip file; a cue with a speaker starts with the speaker's name ("Alex: ...")."""
    return srt.compose(
        [
            srt.Subtitle(
                index,
                timedelta(seconds=cue.start),
                timedelta(seconds=cue.end),
                "\n".join(
                    (f"{cue.speaker}: " if cue.speaker and i == 0 else "") + line
                    for i, line in enumerate(cue.lines)
                ),
            )
            for index, cue in enumerate(cues, start=1)
        ],
        reindex=False,
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
