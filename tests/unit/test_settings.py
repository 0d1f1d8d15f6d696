"""Settings: one class per concern, each setting written once, and the README agrees with them.

The README's settings tables are checked against the classes: every variable they read is
documented with its default, and every variable documented exists. A row may name several
variables, `STORIES_X_A` / `_B`, the short form replacing the tail of the first name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from stories_gemini.settings import GeminiSettings
from stories_local import LocalSettings
from stories_openai.settings import OpenAISettings

from stories_adapters.containers import build_application
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.settings import (
    DataSettings,
    KafkaSettings,
    Settings,
    default_home,
    problems,
    variables,
)
from stories_core.errors import BackendMisconfigured
from stories_core.plugins import backend_settings
from stories_core.plugins.settings import env_prefix

README = Path(__file__).resolve().parents[2] / "README.md"
BACKENDS: dict[str, type[BaseModel]] = {
    "local": LocalSettings,
    "gemini": GeminiSettings,
    "openai": OpenAISettings,
}
DESCRIBED = {
    "STORIES_DATABASE_URL": "SQLite in `STORIES_HOME`",
    "STORIES_BLOB_DIR": "`STORIES_HOME/blobs`",
}
"""Settings whose default is worked out from others, and how the README says so."""
NONE = object()


def defaults() -> dict[str, object]:
    """Every variable the service and the backends documented in tables read, with its default."""
    found = {name: field.get_default(call_default_factory=True) for name, field in variables()}
    for field, info in LocalSettings.model_fields.items():
        found[env_prefix("local") + field.upper()] = info.default
    return found


def expand(names: str, known: set[str]) -> list[str]:
    """`STORIES_A_B` / `_C` → STORIES_A_B, STORIES_A_C: the short form replaces the longest
    tail of the first name that makes a name that exists."""
    parts = [part.strip().strip("`") for part in names.split(" / ")]
    first, expanded = parts[0], []
    for part in parts:
        if part.startswith("STORIES_"):
            expanded.append(part)
            continue
        cuts = [first[:at] + part for at, char in enumerate(first) if char == "_"]
        matches = [name for name in cuts if name in known]
        assert matches, f"{part!r} after {first!r} names nothing"
        expanded.append(matches[0])
    return expanded


def documented() -> dict[str, str]:
    """Every variable named in a README settings table, with its default as written."""
    known = set(defaults())
    rows: dict[str, str] = {}
    in_table = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| variable | default |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        if not in_table or line.startswith("| ---"):
            continue
        names, default, _meaning = (cell.strip() for cell in line.strip("|").split(" | ", 2))
        expanded = expand(names, known)
        values = default.split(" / ")
        assert len(values) == len(expanded), f"one default per variable: {line}"
        for name, value in zip(expanded, values, strict=True):
            assert name not in rows, f"{name} is documented twice"
            rows[name] = value.strip()
    return rows


def as_written(value: object) -> object:
    """A default as the README's tables write it: a dash for none, `code`, 4 MiB, 2,000,000."""
    if value is None or value == "" or (hasattr(value, "get_secret_value") and not str(value)):
        return NONE
    if isinstance(value, Path):
        return str(value).replace(str(Path.home()), "~")
    if isinstance(value, bool | str):
        return value
    return float(value)  # type: ignore[arg-type]


def read(text: str) -> object:
    if text == "\N{EN DASH}":
        return NONE
    if text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    if mebibytes := re.fullmatch(r"(\d+) MiB", text):
        return float(int(mebibytes[1]) * 1024 * 1024)
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    rows, read_by_code = documented(), defaults()
    assert sorted(set(read_by_code) - set(rows)) == [], "settings missing from the README"
    assert sorted(set(rows) - set(read_by_code)) == [], "README rows no class reads"


@pytest.mark.parametrize("name", sorted(defaults()))
def test_the_readme_gives_each_default(name: str) -> None:
    written = documented()[name]
    default = defaults()[name]
    if name in DESCRIBED:
        assert default is None
        assert written == DESCRIBED[name]
    else:
        assert read(written) == as_written(default), f"{name}: README says {written}"


def test_the_gemini_backend_documents_each_of_its_settings() -> None:
    text = README.read_text(encoding="utf-8")
    paragraph = text[text.index("- `gemini`:") : text.index("## Settings")]
    prefix = env_prefix("gemini")
    named = set(re.findall(r"`(STORIES_GEMINI_[A-Z_]+)`", paragraph))
    named |= {prefix + short[1:] for short in re.findall(r"`(_[A-Z_]+)`", paragraph)}
    assert named == {prefix + field.upper() for field in GeminiSettings.model_fields}


def openai_rows() -> dict[str, str]:
    """Every variable in the openai backend's own settings table, with its default as written."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index("- `openai`:") : text.index("- `gemini`:")]
    known = {env_prefix("openai") + field.upper() for field in OpenAISettings.model_fields}
    rows: dict[str, str] = {}
    for line in block.splitlines():
        if not line.strip().startswith("| `STORIES_OPENAI_"):
            continue
        names, default, _meaning = (cell.strip() for cell in line.strip(" |").split(" | ", 2))
        expanded, values = expand(names, known), default.split(" / ")
        assert len(values) == len(expanded), f"one default per variable: {line}"
        for name, value in zip(expanded, values, strict=True):
            assert name not in rows, f"{name} is documented twice"
            rows[name] = value.strip()
    return rows


def test_the_openai_backend_documents_each_of_its_settings_with_its_default() -> None:
    rows = openai_rows()
    fields = OpenAISettings.model_fields
    assert set(rows) == {env_prefix("openai") + field.upper() for field in fields}
    for field, info in fields.items():
        name, default = env_prefix("openai") + field.upper(), info.default
        expected = str(default).lower() if isinstance(default, bool) else as_written(default)
        assert read(rows[name]) == expected, f"{name}: README says {rows[name]}"


def test_the_home_default() -> None:
    assert documented()["STORIES_HOME"] == f"`{as_written(default_home())}`"


# --- reading ---------------------------------------------------------------------------------


def test_each_concern_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORIES_KAFKA_BROKERS", "kafka-0:9092")
    monkeypatch.setenv("STORIES_KAFKA_JOBS_PARTITIONS", "4")
    monkeypatch.setenv("STORIES_S3_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("STORIES_GRPC_PORT", "6000")
    monkeypatch.setenv("STORIES_MAX_PICTURES", "3")
    monkeypatch.setenv("STORIES_WORKER_CONCURRENCY", "7")

    settings = Settings()

    assert (settings.kafka.brokers, settings.kafka.jobs_partitions) == ("kafka-0:9092", 4)
    assert (settings.messaging_kind, settings.data.storage_kind) == ("kafka", "s3")
    assert settings.data.download_ttl_seconds == 900
    assert (settings.grpc.port, settings.jobs.max_pictures) == (6000, 3)
    assert settings.worker.concurrency == 7


def test_a_variable_named_like_a_section_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """`STORIES_API` or `STORIES_KAFKA` in the environment (set for another program, say)
    is no section's JSON: each section reads only its own variables."""
    monkeypatch.setenv("STORIES_API", "x")
    monkeypatch.setenv("STORIES_KAFKA", '{"brokers": "elsewhere:9092"}')
    monkeypatch.setenv("STORIES_KAFKA_BROKERS", "kafka-0:9092")
    settings = Settings()
    assert settings.kafka.brokers == "kafka-0:9092"
    assert settings.api.embedded_workers == 2


def test_embedded_when_nothing_is_set(tmp_path: Path) -> None:
    settings = Settings(data=DataSettings(home=tmp_path))
    assert settings.messaging_kind == "in_process"
    assert settings.data.storage_kind == "local"
    assert settings.data.resolved_database_url == f"sqlite:///{tmp_path / 'stories.db'}"
    assert settings.data.auto_migrate
    assert settings.data.resolved_blob_dir == tmp_path / "blobs"
    assert settings.data.download_ttl_seconds is None


def test_settings_from_variables_nest_them(tmp_path: Path) -> None:
    settings = Settings.from_variables(
        {"STORIES_HOME": str(tmp_path), "STORIES_KAFKA_GROUP_ID": "g", "STORIES_GRPC_PORT": "0"}
    )
    assert (settings.data.home, settings.kafka.group_id, settings.grpc.port) == (tmp_path, "g", 0)


@pytest.mark.parametrize(
    ("variables_", "expected"),
    [
        ({"STORIES_KAFKA_JOBS_PARTITIONS": "0"}, "STORIES_KAFKA_JOBS_PARTITIONS: Input should be"),
        ({"STORIES_S3_URL_EXPIRY_SECONDS": "x"}, "STORIES_S3_URL_EXPIRY_SECONDS: Input should be"),
        ({"STORIES_LOG_LEVEL": "loud"}, "STORIES_LOG_LEVEL: Value error, must be one of"),
        ({"STORIES_GRPC_MAX_STREAMS": "0"}, "STORIES_GRPC_MAX_STREAMS: Input should be greater"),
        ({"STORIES_WEBHOOK_SECRET": ""}, "STORIES_WEBHOOK_SECRET: Value should have at least 1"),
    ],
)
def test_a_bad_setting_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, variables_: dict[str, str], expected: str
) -> None:
    for name, value in variables_.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert problems(caught.value)[0].startswith(expected)


def test_kafka_config_is_the_kafka_settings_and_reads_only_what_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert KafkaConfig.model_fields.keys() == KafkaSettings.model_fields.keys()
    monkeypatch.setenv("STORIES_KAFKA_GROUP_ID", "from-the-environment")
    config = KafkaConfig(brokers="b:9092")
    assert config.group_id == "stories-workers"
    assert config.consumer("c")["group.id"] == "stories-workers"


# --- the container ---------------------------------------------------------------------------


def test_the_container_is_loaded_from_the_settings_once(tmp_path: Path) -> None:
    settings = Settings.from_variables(
        {
            "STORIES_HOME": str(tmp_path),
            "STORIES_KAFKA_BROKERS": "kafka-0:9092",
            "STORIES_KAFKA_DLQ_TOPIC": "dead",
            "STORIES_WEBHOOK_SECRET": "s3cret",
            "STORIES_WEBHOOK_TIMEOUT_SECONDS": "5",
        }
    )
    application = build_application(settings)

    kafka = application.messaging.kafka_config()
    assert isinstance(kafka, KafkaConfig)
    assert kafka == KafkaConfig(**settings.kafka.model_dump())
    assert kafka.dlq_topic == "dead"
    assert application.config.messaging_kind() == "kafka"
    assert application.use_cases.limits().webhooks_enabled
    assert application.config.webhook.secret().get_secret_value() == "s3cret"
    assert application.config.webhook.claim_seconds() == 35


def test_the_worker_id_is_minted_once_per_application(tmp_path: Path) -> None:
    one = build_application(Settings(data=DataSettings(home=tmp_path)))
    other = build_application(Settings(data=DataSettings(home=tmp_path)))
    assert one.core.worker_id() == one.core.worker_id()
    assert one.core.worker_id() != other.core.worker_id()


# --- backends --------------------------------------------------------------------------------


class Sample(BaseModel):
    size: int = 10
    token: str
    mode: str = "fast"


def test_a_backend_reads_its_prefix_and_blank_is_unset() -> None:
    settings = backend_settings(
        Sample,
        "sample",
        {"STORIES_SAMPLE_TOKEN": "t", "STORIES_SAMPLE_MODE": "  ", "STORIES_OTHER_X": "1"},
    )
    assert (settings.size, settings.token, settings.mode) == (10, "t", "fast")


def test_a_misconfigured_backend_names_every_bad_variable_and_no_value() -> None:
    with pytest.raises(BackendMisconfigured) as caught:
        backend_settings(
            Sample,
            "sample",
            {"STORIES_SAMPLE_SIZE": "big-secret-value", "STORIES_SAMPLE_SIZ": "other-secret"},
        )
    message = caught.value.message
    assert message.startswith("sample backend settings are invalid: ")
    for variable in ("STORIES_SAMPLE_SIZE", "STORIES_SAMPLE_SIZ:", "STORIES_SAMPLE_TOKEN"):
        assert variable in message
    assert "secret" not in message
    assert (caught.value.code, caught.value.retryable) == ("BACKEND_MISCONFIGURED", False)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_fails_the_same_way(name: str) -> None:
    from stories_core.plugins import build_registry, make_plugin_manager

    factory = build_registry(make_plugin_manager()).backends[name]
    environ = {f"{env_prefix(name)}API_KEY": "k", f"{env_prefix(name)}NO_SUCH_SETTING": "1"}
    if name != "gemini":
        environ.pop(f"{env_prefix(name)}API_KEY")
    with pytest.raises(BackendMisconfigured) as caught:
        factory.create(environ)
    assert f"{env_prefix(name)}NO_SUCH_SETTING" in caught.value.message
