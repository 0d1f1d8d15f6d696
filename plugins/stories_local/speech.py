"""Speech: eSpeak NG through ctypes, encoded to MP3 with LAME.

eSpeak keeps global state and is not thread-safe, so one lock guards every call, and the
library is loaded and initialised once, on first use rather than at import.

Two voice settings make eSpeak's output depend on what the process spoke before: pitch
"flutter" and "roughness" step through counters that live for the whole process. The
engine therefore runs from a private copy of the voice variants with both turned off
(the rest of eSpeak's data is linked, not copied), and seeds eSpeak's noise generator
before each call: the same script then always gives the same bytes.
"""

from __future__ import annotations

import ctypes
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader
import lameenc

from stories_core.errors import GenerationError
from stories_core.generation import ContentStyle, Media, Narration
from stories_local.narrator import NARRATOR, SECOND_HOST
from stories_local.segmenter import paragraphs

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_OK = 0

_STEADY_SETTINGS = b"\nflutter 0\nroughness 0\n"
_STEADY_VARIANT = "stories-steady"
_FALLBACK_VOICE = "en"
_WORDS_PER_MINUTE = 165
_NORMAL_PITCH, _RAISED_PITCH = 50, 68
_PAUSE_SECONDS = 0.35
_BITRATE_KBPS = 64
_NOISE_SEED = 20240601

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _steady_data_home(source: Path, home: Path) -> dict[str, str]:
    """Lay out an eSpeak data folder under `home` whose variants never flutter or rasp.

    Returns the variant file names available there, by their lower-case form.
    """
    data = home / "espeak-ng-data"
    data.mkdir()
    for entry in source.iterdir():
        if entry.name != "voices":
            (data / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for entry in (source / "voices").iterdir():
        if entry.name != "!v":
            (data / "voices" / entry.name).symlink_to(entry, target_is_directory=True)
    variants = data / "voices" / "!v"
    variants.mkdir(parents=True)
    for variant in (source / "voices" / "!v").iterdir():
        (variants / variant.name).write_bytes(variant.read_bytes() + _STEADY_SETTINGS)
    (variants / _STEADY_VARIANT).write_bytes(
        b"language variant\nname " + _STEADY_VARIANT.encode() + _STEADY_SETTINGS
    )
    return {path.name.lower(): path.name for path in variants.iterdir()}


def _language_voices(source: Path) -> dict[str, str]:
    """Language code -> voice identifier (e.g. "en-gb" -> "gmw/en"), best priority first.

    eSpeak names voices by file, so "en-gb" is not a name it knows; the language lines
    of its voice files say which voice speaks it.
    """
    best: dict[str, tuple[int, str]] = {}
    lang = source / "lang"
    for path in sorted(p for p in lang.rglob("*") if p.is_file()):
        identifier = path.relative_to(lang).as_posix()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "language":
                priority = int(words[2]) if len(words) > 2 and words[2].isdigit() else 5
                code = words[1].lower()
                if code not in best or priority < best[code][0]:
                    best[code] = (priority, identifier)
    return {code: identifier for code, (_, identifier) in best.items()}


class _Espeak:
    """The loaded library. Callers must hold `_LOCK`."""

    def __init__(self) -> None:
        source = Path(espeakng_loader.get_data_path())
        self._home = tempfile.TemporaryDirectory(prefix="stories-espeak-")
        self._variants = _steady_data_home(source, Path(self._home.name))
        self._languages = _language_voices(source)
        self._resolved: dict[str, tuple[str, str]] = {}
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 500, self._home.name.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise GenerationError("eSpeak NG could not start: its data folder is unreadable")
        self.sample_rate = rate
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wave: ctypes.Array[ctypes.c_short], samples: int, _events: int) -> int:
        if samples > 0:
            self._chunks.append(ctypes.string_at(wave, samples * 2))
        return 0

    def resolve(self, requested: str) -> tuple[str, str]:
        """The voice to set for a requested name, and the name to report for it.

        Tries the name as eSpeak knows it, then as a language code, then falls back to
        "en"; a variant ("en-us+f3") is kept when eSpeak has it.
        """
        if requested not in self._resolved:
            base, _, variant = requested.strip().lower().partition("+")
            variant = self._variants.get(variant, _STEADY_VARIANT)
            attempts = [(base, requested)]
            if base in self._languages:
                attempts.append((self._languages[base], requested))
            attempts.append((_FALLBACK_VOICE, _FALLBACK_VOICE))
            for name, label in attempts:
                setting = f"{name}+{variant}"
                if self._lib.espeak_SetVoiceByName(setting.encode()) == _OK:
                    self._resolved[requested] = (setting, label)
                    break
            else:
                raise GenerationError(f"eSpeak NG has no voice for {requested!r}, nor English")
        return self._resolved[requested]

    def synthesize(self, text: str, voice: str, pitch: int) -> bytes:
        """16-bit mono PCM at `sample_rate` for `text` in the resolved `voice`."""
        self._lib.espeak_SetVoiceByName(voice.encode())
        self._lib.espeak_SetParameter(_RATE, _WORDS_PER_MINUTE, 0)
        self._lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._lib.espeak_ng_SetRandSeed(_NOISE_SEED)
        self._chunks = []
        data = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != _OK:
            raise GenerationError(f"eSpeak NG failed to synthesise (status {status})")
        return b"".join(self._chunks)


_MARKS = re.compile(r"^(?:[#>]+\s*|[-+\u2022]\s+)")
_LOCK = threading.Lock()
_engine: _Espeak | None = None


def _speakable(text: str) -> str:
    """Text as it should be read: no markdown marks, and a pause after headings and items."""
    sentences = []
    for heading, lines in paragraphs(text):
        for sentence in [heading] if heading is not None else lines:
            words = _MARKS.sub("", " ".join(sentence.replace("*", " ").replace("`", " ").split()))
            if words:
                sentences.append(words if words[-1] in ".!?…:;," else words + ".")
    return " ".join(sentences)


@dataclass(frozen=True)
class _Take:
    pcm: bytes
    voice: str


def _record(narration: Narration, style: ContentStyle) -> tuple[list[_Take], int]:
    """Speak every line with its role's voice; returns the takes and the sample rate."""
    global _engine
    with _LOCK:
        if _engine is None:
            try:
                _engine = _Espeak()
            except OSError as exc:
                raise GenerationError(f"eSpeak NG could not start: {exc}") from exc
        roles = {
            NARRATOR: _engine.resolve(style.voices.narrator),
            SECOND_HOST: _engine.resolve(style.voices.second_host),
        }
        same_voice = roles[NARRATOR][0] == roles[SECOND_HOST][0]
        takes = []
        for line in narration.lines:
            text = _speakable(line.text)
            if not text:
                continue
            setting, label = roles.get(line.speaker, roles[NARRATOR])
            raised = line.speaker == SECOND_HOST and same_voice
            pitch = _RAISED_PITCH if raised else _NORMAL_PITCH
            takes.append(_Take(_engine.synthesize(text, setting, pitch), label))
        return takes, _engine.sample_rate


def _mp3(pcm: bytes, sample_rate: int) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(_BITRATE_KBPS)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)  # "fast": speech needs no more, and it is 2x quicker than 5
    return bytes(encoder.encode(pcm) + encoder.flush())


def speak(narration: Narration, style: ContentStyle) -> Media:
    """An MP3 of the script: one voice per role, a short pause between lines."""
    if narration.is_empty:
        raise GenerationError("there is nothing to speak: the narration has no text")
    takes, sample_rate = _record(narration, style)
    if not takes:
        raise GenerationError("there is nothing to speak once the markup is removed")
    pause = bytes(2 * int(sample_rate * _PAUSE_SECONDS))
    pcm = pause.join(take.pcm for take in takes)
    voices = list(dict.fromkeys(take.voice for take in takes))
    return Media(
        data=_mp3(pcm, sample_rate),
        content_type="audio/mpeg",
        extension="mp3",
        metadata={
            "duration_seconds": round(len(pcm) / 2 / sample_rate, 3),
            "sample_rate": sample_rate,
            "voices": voices,
            "engine": "espeak-ng",
            "bitrate_kbps": _BITRATE_KBPS,
        },
    )
