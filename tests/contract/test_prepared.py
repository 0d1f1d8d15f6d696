"""Prepared statements store and read values exactly as SQLAlchemy Core does."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, insert, select

from stories_adapters.sql import prepared
from stories_adapters.sql.engine import begin, make_engine, migrate
from stories_adapters.sql.prepared import prepare
from stories_adapters.sql.tables import outbox

INSERT = insert(outbox)
BY_KEY = select(outbox).where(outbox.c.message_key == bindparam("key")).order_by(outbox.c.id)
COLUMNS = ("topic", "message_key", "payload", "created_at")
MESSAGE = {
    "topic": "jobs",
    "message_key": "k1",
    "payload": {"nested": [1, {"none": None}], "text": "é ü 字"},
    "created_at": datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
}


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        engine: Engine = request.getfixturevalue("postgres_engine")
        with engine.begin() as connection:
            connection.execute(outbox.delete())
        yield engine
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'prepared.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_what_a_prepared_insert_stores_core_reads_back(engine: Engine) -> None:
    with engine.connect() as connection:
        begin(connection)
        statement = prepare(INSERT, engine.dialect, COLUMNS)
        prepared.execute_many(connection, statement, [MESSAGE, {**MESSAGE, "topic": "events"}])
        connection.commit()
    with engine.connect() as connection:
        rows = [row._mapping for row in connection.execute(BY_KEY, {"key": "k1"})]
    assert [row["topic"] for row in rows] == ["jobs", "events"]
    assert rows[0]["payload"] == MESSAGE["payload"]
    assert rows[0]["created_at"] == MESSAGE["created_at"]
    assert rows[0]["created_at"].utcoffset() == timedelta(0)


def test_a_prepared_select_reads_what_core_reads(engine: Engine) -> None:
    with engine.connect() as connection:
        begin(connection)
        connection.execute(INSERT, MESSAGE)
        core = [dict(row._mapping) for row in connection.execute(BY_KEY, {"key": "k1"})]
        fast = prepared.execute(connection, prepare(BY_KEY, engine.dialect), {"key": "k1"})
        missing = prepared.execute(connection, prepare(BY_KEY, engine.dialect), {"key": "no"})
    assert fast == core
    assert fast[0]["created_at"].tzinfo is UTC
    assert missing == []


def test_prepared_parameters_go_through_the_column_types(engine: Engine) -> None:
    naive = {**MESSAGE, "created_at": datetime(2026, 1, 1)}
    with engine.connect() as connection, pytest.raises(ValueError, match="naive"):
        prepared.execute(connection, prepare(INSERT, engine.dialect, COLUMNS), naive)
