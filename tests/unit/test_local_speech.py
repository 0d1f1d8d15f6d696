"""The `local` backend speaks what the text means, in the text's language.

Real audio: each narration is spoken by eSpeak NG, encoded to MP3, and decoded back with
soundfile (libsndfile reads MP3) to check it is sound of a plausible length.
"""

from __future__ import annotations

import io
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile
from stories_local import LocalBackend, speech

from stories_core import ports, timing
from stories_core.errors import GenerationError
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine, Voices
from stories_core.model import AudioType
from stories_core.text import sentences

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLAIN = ContentStyle(name="plain", description="", tone="", image_style="")
TEACHING = ContentStyle(
    name="teaching",
    description="",
    tone="",
    image_style="",
    visual="diagram",
    disclaimer="This is only a lesson.",
    intro_template="Let's learn about {title}.",
    outro_template="That's the key idea.",
)
HOSTS = ContentStyle(
    name="hosts",
    description="",
    tone="",
    image_style="",
    voices=Voices(narrator="en-gb", second_host="en-us"),
)
CHINESE = "小猫早上离开了家。它走过一座小桥。它看见一条鱼。"
GERMAN = "Am 3. Mai kostete das Buch 1.234,50 €. Der Preis stieg um 12 %."


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend()


def said(text: str, language: str = "en", speaker: str = "narrator") -> Narration:
    return Narration((SpokenLine(speaker, text),), language=language)


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def assert_real_speech(data: bytes, duration: float) -> None:
    samples, rate = decoded(data)
    assert rate == 22050
    assert abs(len(samples) / rate - duration) < 0.25
    assert float(np.sqrt(np.mean(samples**2))) > 0.02, "not silence"


# --- voices by language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("en", "en"), ("en-US", "en-us"), ("en-GB", "en-gb"), ("en-AU", "en"), ("", "en"),
        ("und", "en"), ("zh", "cmn"), ("zh-Hans", "cmn"), ("zh-Hant", "cmn"),
        ("zh-Hant-TW", "cmn"), ("zh-HK", "yue"), ("zh-Hant-HK", "yue"), ("yue", "yue"),
        ("cmn", "cmn"), ("pt-BR", "pt-br"), ("pt", "pt"), ("pt-PT", "pt-pt"), ("he", "he"),
        ("iw", "he"), ("de-AT", "de"), ("fr-CA", "fr"), ("es-MX", "es-mx"), ("ar", "ar"),
        ("hi", "hi"), ("ru", "ru"), ("ko", "ko"), ("nb", "nb"), ("no", "nb"), ("vi", "vi"),
    ],
)  # fmt: skip
def test_a_language_tag_picks_the_espeak_voice_of_its_language(language: str, voice: str) -> None:
    assert speech.voice_for(language) == voice


# Japanese: eSpeak reads kana only and names each kanji; Faroese: its dictionary is not
# in the data eSpeak ships here; the rest: no voice at all.
@pytest.mark.parametrize("language", ["ja", "ja-JP", "fo", "tlh", "xx", "qaa"])
def test_languages_without_a_voice_are_refused_by_name(
    backend: LocalBackend, language: str
) -> None:
    assert speech.voice_for(language) is None
    assert backend.speaks(language) is False
    with pytest.raises(GenerationError) as raised:
        backend.speak(said("Some words.", language), PLAIN)
    assert repr(language) in str(raised.value)
    assert not raised.value.retryable


def test_the_refusal_names_the_language_in_words(backend: LocalBackend) -> None:
    with pytest.raises(GenerationError, match=r"'tlh' \(Klingon\)"):
        backend.speak(said("nuqneH", "tlh"), PLAIN)
    with pytest.raises(GenerationError, match=r"'ja' \(Japanese\).*kanji"):
        backend.speak(said("猫が好きです", "ja"), PLAIN)


@pytest.mark.parametrize("language", ["en", "en-GB", "zh", "zh-Hant", "de", "ar", "he", "pt-BR"])
def test_languages_with_a_voice_are_spoken(backend: LocalBackend, language: str) -> None:
    assert backend.speaks(language) is True


def test_the_core_asks_the_backend_before_it_takes_a_job_with_audio(
    backend: LocalBackend,
) -> None:
    assert ports.speaks(backend, "zh-Hant") is True
    assert ports.speaks(backend, "ja") is False


def test_chinese_is_spoken_by_a_mandarin_voice(backend: LocalBackend) -> None:
    media = backend.speak(said(CHINESE, "zh"), PLAIN)
    assert media.metadata["voices"] == ["cmn"]
    assert media.metadata["language"] == "zh"
    assert media.metadata["spoken_text"] == CHINESE
    duration = media.metadata["duration_seconds"]
    syllables = len(re.findall(r"[\u4e00-\u9fff]", CHINESE))
    # Mandarin says a character a syllable; an English voice naming each one as a
    # "Chinese letter" would take well over half a second per character.
    assert 0.1 * syllables <= duration <= 0.45 * syllables
    assert_real_speech(media.data, duration)


def test_cantonese_for_hong_kong(backend: LocalBackend) -> None:
    media = backend.speak(said(CHINESE, "zh-HK"), PLAIN)
    assert media.metadata["voices"] == ["yue"]


def test_german_is_spoken_in_german_words(backend: LocalBackend) -> None:
    media = backend.speak(said(GERMAN, "de"), PLAIN)
    assert media.metadata["voices"] == ["de"]
    assert media.metadata["spoken_text"] == (
        "Am dritten Mai kostete das Buch eintausendzweihundertvierunddreißig Euro und "
        "fünfzig Cent. Der Preis stieg um zwölf Prozent."
    )
    assert_real_speech(media.data, media.metadata["duration_seconds"])


def test_style_voices_speak_only_their_own_language(backend: LocalBackend) -> None:
    english = backend.speak(said("Hello there.", "en-GB"), HOSTS)
    assert english.metadata["voices"] == ["en-gb"]
    german = backend.speak(said("Guten Tag.", "de"), HOSTS)
    assert german.metadata["voices"] == ["de"]
    own = ContentStyle(
        name="own", description="", tone="", image_style="", voices=Voices(narrator="de")
    )
    assert backend.speak(said("Guten Tag.", "de-AT"), own).metadata["voices"] == ["de"]


def test_the_second_host_of_a_foreign_podcast_is_the_same_voice_pitched_up(
    backend: LocalBackend,
) -> None:
    first = backend.speak(said("它看见一条鱼。", "zh", "narrator"), HOSTS)
    second = backend.speak(said("它看见一条鱼。", "zh", "second_host"), HOSTS)
    assert first.metadata["voices"] == second.metadata["voices"] == ["cmn"]
    assert first.data != second.data


# --- what is said ------------------------------------------------------------------------------


def test_amounts_and_dates_are_said_in_words(backend: LocalBackend) -> None:
    media = backend.speak(said("Sales reached $1.5M on 2024-01-05."), PLAIN)
    spoken = media.metadata["spoken_text"]
    assert "one point five million dollars" in spoken
    assert "January fifth, twenty twenty-four" in spoken
    for artefact in ("dollar one", " M ", "dash", "$", "2024"):
        assert artefact not in spoken
    assert_real_speech(media.data, media.metadata["duration_seconds"])


def test_spoken_text_is_what_each_spoken_line_became(backend: LocalBackend) -> None:
    narration = Narration(
        (
            SpokenLine("narrator", "# Results"),
            SpokenLine("second_host", "```\nprint('not read')\n```"),
            SpokenLine("second_host", "Up **12%** 🎉, see https://example.com."),
        ),
        language="en",
    )
    media = backend.speak(narration, HOSTS)
    assert media.metadata["spoken_text"] == "Results.\nUp twelve percent, see."
    assert media.metadata["voices"] == ["en-gb", "en-us"]
    assert media.metadata["language"] == "en"
    for key in ("duration_seconds", "sample_rate", "engine", "bitrate_kbps"):
        assert key in media.metadata


def test_markup_alone_is_nothing_to_speak(backend: LocalBackend) -> None:
    with pytest.raises(GenerationError):
        backend.speak(said("https://example.com 🎉"), PLAIN)


def test_speech_is_deterministic_in_every_language(backend: LocalBackend) -> None:
    chinese, german = said(CHINESE, "zh"), said(GERMAN, "de")
    first = backend.speak(chinese, PLAIN).data
    backend.speak(german, HOSTS)
    assert backend.speak(chinese, PLAIN).data == first
    assert backend.speak(german, HOSTS).data == backend.speak(german, HOSTS).data


@pytest.mark.parametrize(
    ("language", "text"),
    [("de", "Euro und fünfzig."), ("it", "Roma è rara."), ("ru", "Рыба и река."),
     ("es", "El perro corre."), ("ar", "رجل كبير.")],
)  # fmt: skip
def test_a_trilled_r_comes_out_the_same_every_time(
    backend: LocalBackend, language: str, text: str
) -> None:
    # eSpeak modulates a trill every second or fourth glottal cycle, counted for the
    # whole process: four takes in a row would differ if that count leaked in.
    takes = {backend.speak(said(text, language), PLAIN).data for _ in range(4)}
    assert len(takes) == 1


# --- narration framing -------------------------------------------------------------------------


def brief(text: str, language: str) -> SegmentBrief:
    return SegmentBrief(index=0, count=1, title="", text=text, language=language)


@pytest.mark.parametrize("audio", [AudioType.FREE_SPEECH, AudioType.PODCAST, AudioType.VERBATIM])
def test_a_narration_carries_the_briefs_language(backend: LocalBackend, audio: AudioType) -> None:
    assert backend.narrate(brief(CHINESE, "zh"), audio, TEACHING).language == "zh"
    assert backend.narrate(brief("Plain words here.", "en-GB"), audio, TEACHING).language == (
        "en-GB"
    )


def test_a_foreign_retelling_is_the_segments_own_sentences(backend: LocalBackend) -> None:
    text = "# Die Katze\n\nDie Katze schläft. Sie träumt.\n\nDann wacht sie auf."
    narration = backend.narrate(brief(text, "de"), AudioType.FREE_SPEECH, TEACHING)
    assert [line.text for line in narration.lines] == [
        "Die Katze.",
        "Die Katze schläft. Sie träumt.",
        "Dann wacht sie auf.",
    ]
    assert {line.speaker for line in narration.lines} == {"narrator"}


def test_a_foreign_podcast_hands_the_sentences_to_the_hosts_in_turn(
    backend: LocalBackend,
) -> None:
    narration = backend.narrate(brief(CHINESE, "zh"), AudioType.PODCAST, TEACHING)
    assert [line.text for line in narration.lines] == [
        "小猫早上离开了家。",
        "它走过一座小桥。",
        "它看见一条鱼。",
    ]
    speakers = [line.speaker for line in narration.lines]
    assert speakers[0] == "narrator" and all(a != b for a, b in pairwise(speakers))


@pytest.mark.parametrize("audio", [AudioType.FREE_SPEECH, AudioType.PODCAST])
def test_no_english_framing_in_a_foreign_narration(backend: LocalBackend, audio: AudioType) -> None:
    text = "Le chat dort. Il rêve de poissons.\n\nPuis il se réveille."
    narration = backend.narrate(brief(text, "fr"), audio, TEACHING)
    spoken = " ".join(line.text for line in narration.lines)
    assert spoken == "Le chat dort. Il rêve de poissons. Puis il se réveille."


def test_english_keeps_its_framing(backend: LocalBackend) -> None:
    text = "Cats sleep a lot. Cats dream of fish."
    narration = backend.narrate(brief(text, "en-US"), AudioType.FREE_SPEECH, TEACHING)
    assert narration.lines[0].text == "This is only a lesson."
    assert narration.lines[1].text.startswith("Let's learn about")


def test_code_blocks_are_not_narrated(backend: LocalBackend) -> None:
    text = "Install it first.\n\n```sh\npip install stories\n\nstories make\n```\n\nThen run it."
    for audio in (AudioType.FREE_SPEECH, AudioType.PODCAST):
        narration = backend.narrate(brief(text, "en"), audio, PLAIN)
        assert "pip" not in narration.text and "```" not in narration.text
        assert "Then run it." in narration.text


def test_a_chinese_podcast_is_spoken_end_to_end(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(CHINESE, "zh"), AudioType.PODCAST, HOSTS)
    media = backend.speak(narration, HOSTS)
    assert media.metadata["voices"] == ["cmn"]
    assert media.metadata["spoken_text"].split("\n") == [line.text for line in narration.lines]
    assert_real_speech(media.data, media.metadata["duration_seconds"])


# --- listen-through ----------------------------------------------------------------------------

_UNSPEAKABLE = re.compile(r"\d|[$%#*_`|\[\]<>]|https?:|\bdash\b|\bdot\b")


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.txt")))
@pytest.mark.parametrize("audio", [AudioType.FREE_SPEECH, AudioType.PODCAST])
def test_the_examples_are_said_in_words(
    backend: LocalBackend, example: str, audio: AudioType
) -> None:
    text = (EXAMPLES / example).read_text()
    spans = backend.segment(text, 2, TEACHING, "en")
    for index, span in enumerate(spans):
        segment = SegmentBrief(index, len(spans), span.title, text[span.start : span.end])
        media = backend.speak(backend.narrate(segment, audio, TEACHING), TEACHING)
        spoken = media.metadata["spoken_text"]
        assert spoken and not _UNSPEAKABLE.search(spoken), spoken


# ---- timings ------------------------------------------------------------------------------


def _decoded(data: bytes) -> tuple[bytes, int]:
    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16")
    return samples.tobytes(), rate


def test_engine_timings_follow_espeaks_words_and_sentences(backend: LocalBackend) -> None:
    narration = Narration(
        (
            SpokenLine("narrator", "It costs $1,250 on 3 May 2024. Dr. Smith agrees."),
            SpokenLine("second_host", "Really? Wow."),
        ),
        "en",
    )
    media = backend.speak(narration, HOSTS)
    metadata = media.metadata
    assert metadata["timing_source"] == "engine"
    sentences = metadata["sentences"]
    # As the script writes them (the counts match), not as said ("one thousand two hundred...")
    assert [(s["text"], s["line"], s["speaker"], s["role"]) for s in sentences] == [
        ("It costs $1,250 on 3 May 2024.", 0, HOSTS.voices.narrator_name, "narrator"),
        ("Dr. Smith agrees.", 0, HOSTS.voices.narrator_name, "narrator"),
        ("Really?", 1, HOSTS.voices.second_host_name, "second_host"),
        ("Wow.", 1, HOSTS.voices.second_host_name, "second_host"),
    ]
    words = metadata["words"]
    assert [w["text"] for w in words][:6] == ["It", "costs", "one", "thousand", "two", "hundred"]
    spans = sentences + words
    assert all(0 <= s["start"] < s["end"] <= metadata["duration_seconds"] for s in spans)
    assert all(a["end"] <= b["start"] for a, b in pairwise(sentences))
    assert all(a["end"] <= b["start"] for a, b in pairwise(words))
    assert sentences[0]["start"] == 0 and sentences[-1]["end"] == metadata["duration_seconds"]

    # The second host's line starts where the audio resumes after the pause between lines.
    pcm, rate = _decoded(media.data)
    silences = timing.pauses(pcm, rate, min_seconds=0.3)
    turn = sentences[2]["start"]
    assert any(abs(end - turn) < 0.08 for _, end in silences), (turn, silences)


@pytest.mark.parametrize(
    ("language", "text", "first_words"),
    [
        ("de", "Der Umsatz stieg um 12,5 % auf 250.000 €. Das ist gut.", ["Der", "Umsatz"]),
        ("zh", "太阳是一颗恒星。月亮绕着地球转。", ["太", "阳"]),
        ("ar", "الشمس نجم. القمر يدور حول الأرض.", ["الشمس", "نجم."]),
    ],
)
def test_engine_timings_in_other_languages_and_scripts(
    backend: LocalBackend, language: str, text: str, first_words: list[str]
) -> None:
    metadata = backend.speak(Narration((SpokenLine("narrator", text),), language), PLAIN).metadata
    assert [s["text"] for s in metadata["sentences"]] == [
        part.strip() for part in sentences(text, language)
    ]
    assert [w["text"] for w in metadata["words"]][:2] == first_words
