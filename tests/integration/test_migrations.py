"""The Alembic migrations, on a fresh PostgreSQL database and a fresh SQLite file."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from stories_adapters.sql.engine import MIGRATIONS, alembic_config, make_engine, migrate
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.sql.tables import metadata
from stories_core.model import Topic, derived_id
from tests.services import PostgresServer

TABLES = {"jobs", "segments", "assets"}
SCRIPTS = ScriptDirectory(str(MIGRATIONS))


@pytest.fixture(params=["postgres", "sqlite"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database nothing has touched yet."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database("stories_migrations")
    else:
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    engine = make_engine(url, pool_size=2)
    yield engine
    engine.dispose()


def tables_of(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_from_empty_reaches_head_and_matches_the_models(empty_engine: Engine) -> None:
    assert tables_of(empty_engine) == set()
    migrate(empty_engine)
    assert tables_of(empty_engine) >= TABLES
    assert current_revision(empty_engine) == SCRIPTS.get_current_head()
    assert differences(empty_engine) == []


def test_upgrading_again_is_a_no_op(empty_engine: Engine) -> None:
    migrate(empty_engine)
    migrate(empty_engine)
    assert differences(empty_engine) == []


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    migrate(empty_engine)
    command.downgrade(alembic_config(empty_engine), "base")
    assert tables_of(empty_engine) - {"alembic_version"} == set()
    assert current_revision(empty_engine) is None
    migrate(empty_engine)
    assert tables_of(empty_engine) >= TABLES
    assert differences(empty_engine) == []


def test_there_is_a_single_head() -> None:
    assert len(SCRIPTS.get_heads()) == 1


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("jobs", "segments", "assets")
        }


def insert_job(connection: Connection, moment: str) -> None:
    """Job 'j' as the first schema has it (later migrations add columns with defaults)."""
    connection.execute(
        text(
            "INSERT INTO jobs (id, tenant, state, text, content_type, pictures, "
            "audio_type, backend, trace_id, attempt, created_at, updated_at) VALUES "
            "('j', 't', 'succeeded', 'One.', 'educational', 1, 'none', 'local', 'tr', 1, "
            ":moment, :moment)"
        ),
        {"moment": moment},
    )


def test_every_step_up_and_down_keeps_the_rows(empty_engine: Engine) -> None:
    """Rebuilding a table (SQLite batch mode) must never cascade-delete what refers to it."""
    config = alembic_config(empty_engine)
    command.upgrade(config, "0001")
    moment = "2026-01-01 00:00:00.000000"
    with empty_engine.begin() as connection:
        insert_job(connection, moment)
        connection.execute(
            text(
                "INSERT INTO segments (id, job_id, idx, start_offset, end_offset, title, text, "
                "state) VALUES ('s', 'j', 0, 0, 4, 'One', 'One.', 'succeeded')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assets (id, job_id, segment_id, kind, blob_key, content_type, "
                "size, checksum, metadata) VALUES ('a', 'j', 's', 'image', 'k', 'image/png', "
                "1, 'sha256:00', '{}')"
            )
        )
    before = counts(empty_engine)
    revisions = [script.revision for script in SCRIPTS.walk_revisions("base", "heads")]
    for revision in reversed(revisions[:-1]):  # 0002 .. head, one at a time
        command.upgrade(config, revision)
        assert counts(empty_engine) == before, f"rows lost upgrading to {revision}"
    for revision in revisions[1:]:  # head-1 .. 0001
        command.downgrade(config, revision)
        assert counts(empty_engine) == before, f"rows lost downgrading to {revision}"


def test_a_webhook_row_written_by_an_earlier_version_becomes_its_delivery(
    empty_engine: Engine,
) -> None:
    """During a rolling upgrade, a process of the earlier version still writes webhooks to
    the outbox: the relay records each as its delivery, once, with the id the earlier
    relay gave it, and never publishes it."""
    migrate(empty_engine)
    event = {
        "kind": "job.succeeded", "job_id": "j", "tenant": "t", "state": "succeeded",
        "progress": 1.0, "occurred_at": "2026-01-01T00:00:00+00:00", "trace_id": "tr",
        "segment_index": None, "segment_count": 1, "error_code": None,
        "error_message": None, "error_retryable": False,
    }  # fmt: skip
    payload = json.dumps({"url": "https://example.test/hook", "event": event})
    with empty_engine.begin() as connection:
        insert_job(connection, "2026-01-01 00:00:00.000000")
        for topic in ("webhooks", "events"):
            connection.execute(
                text(
                    "INSERT INTO outbox (topic, message_key, payload, created_at) "
                    "VALUES (:topic, 'j', :payload, :moment)"
                ),
                {"topic": topic, "payload": payload, "moment": "2026-01-01 00:00:00.000000"},
            )
    with SqlUnitOfWork(empty_engine) as uow:
        assert [m.topic for m in uow.outbox.pending(10)] == [Topic.EVENTS]
        uow.commit()
    with SqlUnitOfWork(empty_engine) as uow:
        assert [m.topic for m in uow.outbox.pending(10)] == [Topic.EVENTS], "only what is ours"
        [delivery] = uow.webhooks.for_job("j")
    expected_id = derived_id(
        "webhook", "https://example.test/hook", "j", "job.succeeded", event["occurred_at"]
    )
    assert (delivery.id, delivery.url, delivery.event) == (
        expected_id,
        "https://example.test/hook",
        event,
    )
