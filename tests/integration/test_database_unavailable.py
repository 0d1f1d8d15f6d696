"""A database that refuses or drops the connection is DatabaseUnavailable, in our words:
the driver's text (SQL, addresses) goes to the log, never into the error."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from stories_adapters.sql.engine import make_engine, migrate
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_core.errors import DatabaseUnavailable, NotFound


def test_a_refused_connection_is_database_unavailable_at_once() -> None:
    engine = make_engine("postgresql+psycopg://stories@127.0.0.1:1/stories", pool_size=1)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as raised, SqlUnitOfWork(engine) as uow:
        uow.jobs.get("x")
    assert time.monotonic() - started < 5
    assert raised.value.code == "DATABASE_UNAVAILABLE" and raised.value.retryable
    assert "127.0.0.1" not in raised.value.message and "psycopg" not in raised.value.message
    engine.dispose()


def test_a_connection_dropped_mid_transaction_is_database_unavailable(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=2)
    migrate(engine)
    with pytest.raises(DatabaseUnavailable) as raised, SqlUnitOfWork(engine) as uow:
        with pytest.raises(NotFound):
            uow.jobs.get("no-such-job")
        with engine.connect() as admin:  # the server ends our session, as a restart would
            pid = uow.jobs._db.execute(text("SELECT pg_backend_pid()")).scalar()
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        uow.jobs.get("no-such-job")
    assert "SELECT" not in raised.value.message
    with SqlUnitOfWork(engine) as uow, pytest.raises(NotFound):  # the pool recovers
        uow.jobs.get("no-such-job")
    engine.dispose()


def test_a_fault_of_ours_is_not_called_an_outage(tmp_path) -> None:
    """A schema or SQL error is a bug, not the database being away: it stays itself (and
    the API answers INTERNAL, logged) rather than a retryable DATABASE_UNAVAILABLE."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no tables
    for read in (
        lambda uow: uow.jobs.get("x"),
        lambda uow: uow.jobs.claimable(datetime.now(UTC), 1),
    ):
        with pytest.raises(Exception) as raised, SqlUnitOfWork(engine) as uow:
            read(uow)
        assert not isinstance(raised.value, DatabaseUnavailable)
        assert "no such table" in str(raised.value)
    engine.dispose()


def test_a_statement_past_the_statement_timeout_is_database_unavailable(
    postgres_url: str,
) -> None:
    """The server cancels it (SQLSTATE 57014): a database too busy to answer in time is
    an outage to wait out, not a bug."""
    engine = make_engine(postgres_url, pool_size=1, statement_timeout_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable), SqlUnitOfWork(engine) as uow:
        uow.jobs._db.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 3
    with SqlUnitOfWork(engine) as uow:  # the connection is usable again
        assert uow.jobs._db.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
