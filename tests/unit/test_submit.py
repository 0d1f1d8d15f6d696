import pytest

from stories_core.errors import ConflictingRequest, InvalidInput, NotEnabled
from stories_core.model import Topic
from stories_core.services.submit import Limits, SubmitJob
from tests.fakes import FixedLanguage
from tests.unit.conftest import World


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 50_001}, "text"),
        ({"pictures": 0}, "pictures"),
        ({"pictures": 21}, "pictures"),
        ({"content_type": "poetry"}, "content_type"),
        ({"audio_type": "opera"}, "audio_type"),
        ({"backend": "nope"}, "backend"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    world: World, fields: dict[str, object], field: str
) -> None:
    fields = dict(fields)
    request = world.request(str(fields.pop("text", "Some text.")), **fields)
    with pytest.raises(InvalidInput) as raised:
        world.submit(request)
    assert raised.value.field == field
    assert world.database.jobs == {} and world.database.tables.outbox == []


def test_the_same_request_id_returns_the_same_job(world: World) -> None:
    first = world.submit(world.request("Hello there.", request_id="r-1"))
    again = world.submit(world.request("Hello there.", request_id="r-1"))
    assert again.id == first.id
    assert len(world.database.jobs) == 1


def test_a_reused_request_id_with_another_request_is_refused(world: World) -> None:
    world.submit(world.request("Hello there.", request_id="r-1"))
    with pytest.raises(ConflictingRequest, match="request_id"):
        world.submit(world.request("Something else.", request_id="r-1"))
    assert len(world.database.jobs) == 1


def test_a_submitted_job_is_announced_through_the_outbox(world: World) -> None:
    job = world.submit(world.request("Hello there.", webhook_url="https://example.test/h"))
    assert job.trace_id
    [doorbell] = world.outbox(Topic.JOBS)
    assert (doorbell.key, doorbell.payload) == (
        job.id,
        {"job_id": job.id, "trace_id": job.trace_id},
    )
    [queued] = world.outbox(Topic.EVENTS)
    assert queued.payload["kind"] == "job.queued" and queued.payload["tenant"] == "default"
    assert world.database.tables.webhooks == {}, "webhooks fire only at the end"


def test_a_webhook_is_refused_where_none_could_be_delivered(world: World) -> None:
    submit = SubmitJob(
        world.database,
        world.catalog,
        world.clock,
        Limits(webhooks_enabled=False),
        FixedLanguage(),
    )
    with pytest.raises(NotEnabled) as raised:
        submit(world.request("Some text.", webhook_url="https://example.test/hook"))
    assert raised.value.field == "webhook_url"
    assert world.database.jobs == {} and world.database.tables.outbox == []
    assert submit(world.request("Some text.")).webhook_url is None


def test_the_text_is_recorded_clean_with_its_title_and_detected_language(world: World) -> None:
    detector = FixedLanguage("de")
    submit = SubmitJob(world.database, world.catalog, world.clock, Limits(), detector)
    job = submit(world.request("\ufeff# Vulkane\r\n\r\nEin Vulkan ist eine Öffnung.\rLava."))
    assert job.text == "# Vulkane\n\nEin Vulkan ist eine Öffnung.\nLava."
    assert (job.language, job.title) == ("de", "Vulkane")
    assert detector.texts == [job.text], "the language is detected from the recorded text"
    assert world.database.jobs[job.id].text == job.text


def test_a_given_language_wins_and_is_canonical(world: World) -> None:
    job = world.submit(world.request("Hello there.", language="PT-br"))
    assert job.language == "pt-BR"


@pytest.mark.parametrize("language", ["klingon", "xx-bogus", "und"])
def test_a_bad_language_is_refused_by_name(world: World, language: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        world.submit(world.request("Hello there.", language=language))
    assert raised.value.field == "language"
    assert world.database.jobs == {}


def test_audio_in_a_language_without_a_voice_is_refused_up_front(world: World) -> None:
    world.backend.voices = {"en"}
    with pytest.raises(InvalidInput) as raised:
        world.submit(world.request("Hello there.", language="tlh"))
    assert raised.value.field == "audio_type"
    assert "'tlh'" in raised.value.message
    assert world.database.jobs == {}
    job = world.submit(world.request("Hello there.", language="tlh", audio_type="none"))
    assert job.language == "tlh"
