"""Speech: eSpeak NG through ctypes, encoded to MP3 with LAME.

The voice follows the narration's language: a BCP-47 tag ("zh", "pt-BR") is mapped onto
the languages eSpeak's voice files declare (`voice_for`), and every line is first made
speakable in that language (`stories_local.speakable`). A style's voices are used only
when they speak the narration's language.

eSpeak keeps global state and is not thread-safe, so one lock guards every call, and the
library is loaded and initialised once, on first use rather than at import.

Two voice settings make eSpeak's output depend on what the process spoke before: pitch
"flutter" and "roughness" step through counters that live for the whole process. The
engine therefore runs from a private copy of the voice variants with both turned off
(the rest of eSpeak's data is linked, not copied), and seeds eSpeak's noise generator
before each call: the same script then always gives the same bytes. Roughness is set
past the end of eSpeak's modulation table (8), not to 0: its row 0 still modulates a
trilled r every second or fourth glottal cycle, counted process-wide, so German, Italian,
Russian or Arabic lines otherwise come out in two or four versions.
"""

from __future__ import annotations

import ctypes
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import espeakng_loader
import lameenc
from babel import Locale

from stories_core.errors import GenerationError
from stories_core.generation import ContentStyle, Media, Narration
from stories_core.text import language_subtags, plain, primary_language
from stories_core.text import sentences as sentences_of
from stories_core.timing import ENGINE, TimedSpan, Timings
from stories_local.narrator import NARRATOR, SECOND_HOST
from stories_local.speakable import speakable

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_OK = 0

_STEADY_SETTINGS = b"\nflutter 0\nroughness 8\n"
_STEADY_VARIANT = "stories-steady"
# Languages eSpeak has a voice file for but cannot read in their usual script.
_UNREADABLE = {
    "ja": "its Japanese voice reads kana only and names every kanji as a Chinese letter",
}
# Tags whose language eSpeak files under another code.
_ESPEAK_CODES = {"nn": "nb", "no": "nb"}
_WORDS_PER_MINUTE = 165
_NORMAL_PITCH, _RAISED_PITCH = 50, 68
_PAUSE_SECONDS = 0.35
_BITRATE_KBPS = 64
_NOISE_SEED = 20240601

_EVENT_LIST_END, _EVENT_WORD, _EVENT_SENTENCE, _EVENT_END = 0, 1, 2, 5


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h): where in the text (1-based characters) and in the audio
    (samples from the start of this synthesis) a word, sentence or clause end falls."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class _Mark:
    """A word, sentence start or clause end eSpeak reported: its kind, 0-based character
    offset in the text, and sample in the take."""

    kind: int
    position: int
    sample: int


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


def _has_dictionary(source: Path, identifier: str) -> bool:
    """Whether the voice's dictionary is in the data: a voice without it cannot read."""
    name = first_language = None
    for line in (source / "lang" / identifier).read_text(errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "dictionary":
            name = words[1]
        elif len(words) >= 2 and words[0] == "language" and first_language is None:
            first_language = words[1]
    name = name or (first_language or identifier.rsplit("/", 1)[-1]).split("-")[0]
    return (source / f"{name.lower()}_dict").is_file()


@cache
def _voices() -> dict[str, str]:
    """Language code -> voice identifier, for the voices that can read (have a dictionary)."""
    source = Path(espeakng_loader.get_data_path())
    readable = cache(lambda identifier: _has_dictionary(source, identifier))
    return {code: voice for code, voice in _language_voices(source).items() if readable(voice)}


def voice_for(language: str) -> str | None:
    """The eSpeak NG language code whose voice speaks a BCP-47 tag, or None.

    The most specific code eSpeak has wins ("pt-BR" -> "pt-br", "en-AU" -> "en"). Chinese
    is Mandarin ("cmn"), whatever its script, except in Hong Kong and Macau, where it is
    Cantonese ("yue"). "" and "und" are English. Reads eSpeak's voice files only: the
    library is not loaded.
    """
    language, script, territory = language_subtags(language)
    if language in _UNREADABLE:
        return None
    if language == "zh":
        language = "yue" if territory in ("HK", "MO") else "cmn"
    language = _ESPEAK_CODES.get(language, language)
    candidates = [
        f"{language}-{territory}" if territory else "",
        f"{language}-{script}" if script else "",
        language,
    ]
    known = _voices()
    found = next((code.lower() for code in candidates if code and code.lower() in known), None)
    # eSpeak files some languages only under a longer code ("chr" as "chr-us-qaaa-x-west").
    return found or next((code for code in sorted(known) if code.startswith(language + "-")), None)


def speaks(language: str) -> bool:
    """Whether eSpeak NG has a voice that reads `language` (a BCP-47 tag)."""
    return voice_for(language) is not None


def _no_voice(language: str) -> GenerationError:
    base = primary_language(language)
    name = Locale("en").languages.get(base)
    reason = _UNREADABLE.get(base)
    return GenerationError(
        f"eSpeak NG has no voice for the language {language!r}"
        + (f" ({name})" if name else "")
        + (f": {reason}" if reason else "")
        + "; choose audio type none or another backend"
    )


def _speaks_language(voice: str, language: str, code: str) -> bool:
    """Whether a style's voice name ("en-us", "en-gb+f3") is of the narration's language."""
    name = voice.strip().partition("+")[0]
    if not name:
        return False
    return primary_language(name) in (primary_language(language), primary_language(code))


class _Espeak:
    """The loaded library. Callers must hold `_LOCK`."""

    def __init__(self) -> None:
        source = Path(espeakng_loader.get_data_path())
        self._home = tempfile.TemporaryDirectory(prefix="stories-espeak-")
        self._variants = _steady_data_home(source, Path(self._home.name))
        self._languages = _voices()
        self._resolved: dict[tuple[str, str], tuple[str, str]] = {}
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
        self._marks: list[_Mark] = []
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wave: ctypes.Array[ctypes.c_short], samples: int, events) -> int:
        index = 0
        while (event := events[index]).type != _EVENT_LIST_END:
            if event.type in (_EVENT_WORD, _EVENT_SENTENCE, _EVENT_END):
                self._marks.append(_Mark(event.type, event.text_position - 1, event.sample))
            index += 1
        if samples > 0:
            self._chunks.append(ctypes.string_at(wave, samples * 2))
        return 0

    def resolve(self, requested: str, fallback: str) -> tuple[str, str]:
        """The voice to set for a requested name, and the name to report for it.

        Tries the name as eSpeak knows it, then as a language code, then falls back to
        `fallback`, an eSpeak language code, set by its voice file; a variant ("en-us+f3")
        is kept when eSpeak has it.
        """
        key = (requested, fallback)
        if key not in self._resolved:
            base, _, variant = requested.strip().lower().partition("+")
            variant = self._variants.get(variant, _STEADY_VARIANT)
            attempts = [(base, requested)] if base and base != fallback else []
            if base in self._languages and base != fallback:
                attempts.append((self._languages[base], requested))
            attempts.append((self._languages.get(fallback, fallback), fallback))
            for name, label in attempts:
                setting = f"{name}+{variant}"
                if self._lib.espeak_SetVoiceByName(setting.encode()) == _OK:
                    self._resolved[key] = (setting, label)
                    break
            else:
                raise GenerationError(f"eSpeak NG could not load its voice for {fallback!r}")
        return self._resolved[key]

    def synthesize(self, text: str, voice: str, pitch: int) -> tuple[bytes, list[_Mark]]:
        """16-bit mono PCM at `sample_rate` for `text` in the resolved `voice`, and where
        each word and sentence of `text` falls in it."""
        self._lib.espeak_SetVoiceByName(voice.encode())
        self._lib.espeak_SetParameter(_RATE, _WORDS_PER_MINUTE, 0)
        self._lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._lib.espeak_ng_SetRandSeed(_NOISE_SEED)
        self._chunks = []
        self._marks = []
        data = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != _OK:
            raise GenerationError(f"eSpeak NG failed to synthesise (status {status})")
        return b"".join(self._chunks), self._marks


_LOCK = threading.Lock()
_engine: _Espeak | None = None


@dataclass(frozen=True)
class _Take:
    pcm: bytes
    voice: str
    text: str
    role: str
    line: int
    marks: list[_Mark]
    written: str
    """The line as the script has it (digits, symbols), where `text` is what was said."""


def _record(narration: Narration, style: ContentStyle) -> tuple[list[_Take], int]:
    """Speak every line with its role's voice; returns the takes and the sample rate."""
    global _engine
    language = narration.language
    code = voice_for(language)
    if code is None:
        raise _no_voice(language)
    lines = [(line.speaker, speakable(line.text, language), line.text) for line in narration.lines]
    requested = {NARRATOR: style.voices.narrator, SECOND_HOST: style.voices.second_host}
    with _LOCK:
        if _engine is None:
            try:
                _engine = _Espeak()
            except OSError as exc:
                raise GenerationError(f"eSpeak NG could not start: {exc}") from exc
        roles = {
            role: _engine.resolve(voice if _speaks_language(voice, language, code) else code, code)
            for role, voice in requested.items()
        }
        same_voice = roles[NARRATOR][0] == roles[SECOND_HOST][0]
        takes = []
        for line, (speaker, text, written) in enumerate(lines):
            if not text:
                continue
            setting, label = roles.get(speaker, roles[NARRATOR])
            raised = speaker == SECOND_HOST and same_voice
            pitch = _RAISED_PITCH if raised else _NORMAL_PITCH
            pcm, marks = _engine.synthesize(text, setting, pitch)
            role = speaker if speaker in requested else NARRATOR
            takes.append(_Take(pcm, label, text, role, line, marks, written))
        return takes, _engine.sample_rate


def _timings(takes: list[_Take], sample_rate: int, pause_samples: int, language: str) -> Timings:
    """Engine timings from eSpeak's events: a word lasts until the next word or clause end;
    a sentence until the next sentence, or its take's end. A sentence's text is as the
    script writes it ("$1,250") when the script's sentences match the spoken ones one for
    one, else as it was said ("one thousand two hundred and fifty dollars")."""
    sentences: list[TimedSpan] = []
    words: list[TimedSpan] = []
    offset = 0
    for take in takes:
        end = len(take.pcm) // 2

        def seconds(sample: int, at: int = offset) -> float:
            return (at + sample) / sample_rate

        starts = [m for m in take.marks if m.kind == _EVENT_SENTENCE] or [
            _Mark(_EVENT_SENTENCE, 0, 0)
        ]
        spoken = []
        for this, after in zip(starts, [*starts[1:], None], strict=True):
            text = _own(take.text[this.position : after.position if after else None])
            if text:
                spoken.append((text, this.sample, after.sample if after else end))
        script = plain(take.written)  # captions show words, not markdown
        written = [part.strip() for part in sentences_of(script, language) if part.strip()]
        shown = written if len(written) == len(spoken) else [text for text, _, _ in spoken]
        sentences.extend(
            TimedSpan(text, seconds(start), seconds(stop), take.line, take.role)
            for text, (_, start, stop) in zip(shown, spoken, strict=True)
        )
        said = [m for m in take.marks if m.kind == _EVENT_WORD]
        for this, after in zip(said, [*said[1:], None], strict=True):
            text = _own(take.text[this.position : after.position if after else None])
            stop = next(
                (
                    m.sample
                    for m in take.marks
                    if m.kind != _EVENT_SENTENCE and m.sample > this.sample
                ),
                end,
            )
            if text:
                words.append(
                    TimedSpan(text, seconds(this.sample), seconds(stop), take.line, take.role)
                )
        offset += end + pause_samples
    return Timings(ENGINE, tuple(sentences), tuple(words))


def _own(piece: str) -> str:
    """The text from one event's position to the next's, less what leads into the next
    word or sentence (an opening quote or bracket after the last space)."""
    piece = piece.strip()
    head, space, tail = piece.rpartition(" ")
    if space and not any(char.isalnum() for char in tail):
        return head.rstrip()
    return piece


def _mp3(pcm: bytes, sample_rate: int) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(_BITRATE_KBPS)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)  # "fast": speech needs no more, and it is 2x quicker than 5
    return bytes(encoder.encode(pcm) + encoder.flush())


def speak(narration: Narration, style: ContentStyle) -> Media:
    """An MP3 of the script: one voice per role, a short pause between lines.

    The voices speak `narration.language`: a style's voice only when it is of that
    language, else the language's own voice (the second host then speaks it at a raised
    pitch). A language eSpeak has no voice for is a GenerationError naming it.

    Metadata: `duration_seconds`, `sample_rate`, `engine`, `bitrate_kbps`; `voices`, the
    voices used in order of first use (a style's name for its voice, else eSpeak's code
    for the language, e.g. "cmn"); `language`, the narration's BCP-47 tag; and
    `spoken_text`, exactly what eSpeak was given: one line per spoken line of the script,
    joined with "\n" (lines left with nothing to say are not spoken, nor listed); and
    engine timings of each sentence and word of `spoken_text` (`stories_core.timing`).
    """
    if narration.is_empty:
        raise GenerationError("there is nothing to speak: the narration has no text")
    takes, sample_rate = _record(narration, style)
    if not takes:
        raise GenerationError("there is nothing to speak once the markup is removed")
    pause_samples = int(sample_rate * _PAUSE_SECONDS)
    pcm = bytes(2 * pause_samples).join(take.pcm for take in takes)
    voices = list(dict.fromkeys(take.voice for take in takes))
    timings = _timings(takes, sample_rate, pause_samples, narration.language)
    return Media(
        data=_mp3(pcm, sample_rate),
        content_type="audio/mpeg",
        extension="mp3",
        metadata={
            "duration_seconds": round(len(pcm) / 2 / sample_rate, 3),
            "sample_rate": sample_rate,
            "voices": voices,
            "language": narration.language,
            "spoken_text": "\n".join(take.text for take in takes),
            "engine": "espeak-ng",
            "bitrate_kbps": _BITRATE_KBPS,
            **timings.to_metadata(style.voices),
        },
    )
