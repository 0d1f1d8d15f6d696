"""Engines and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    connect_timeout_seconds: int = 5,
    statement_timeout_seconds: float | None = 30.0,
) -> Engine:
    """An engine tuned per database: SQLite gets WAL, a busy timeout and foreign keys;
    PostgreSQL a ping before a pooled connection is reused, and every wait bounded in
    seconds: to connect (`connect_timeout_seconds`), for a pooled connection (the same),
    for a statement (`statement_timeout_seconds`; None: as long as it takes, for
    migrations), and for a peer that went silent (TCP
    keepalives and libpq's `tcp_user_timeout`: a dead server or a cut network is noticed
    within about 10 s, instead of the kernel's two hours)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_reset_on_return=None,  # every unit of work ends its transaction itself
        )
        event.listen(engine, "connect", _sqlite_pragmas)  # a pool event: costs nothing per call
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        pool_timeout=connect_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": connect_timeout_seconds,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,
            "options": f"-c statement_timeout={int((statement_timeout_seconds or 0) * 1000)}",
        },
    )


def open_database(
    url: str,
    *,
    auto_migrate: bool,
    connect_timeout_seconds: int = 5,
    statement_timeout_seconds: float = 30.0,
) -> Engine:
    """The engine the application uses. The embedded SQLite file migrates itself; a
    shared production database is migrated on purpose, by `stories migrate`."""
    engine = make_engine(
        url,
        connect_timeout_seconds=connect_timeout_seconds,
        statement_timeout_seconds=statement_timeout_seconds,
    )
    if auto_migrate:
        migrate(engine)
    return engine


def reachable(engine: Engine) -> bool:
    """Whether the database answers a trivial query now (a health probe)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # whatever the reason, it does not answer; the caller logs it
        return False
    return True


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # SQLAlchemy's recipe: take transaction control from pysqlite, which would otherwise
    # start transactions late (not before a SELECT) and break SAVEPOINTs.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def begin(connection: Connection, *, read_only: bool = False) -> None:
    """Start the connection's transaction. On SQLite writers BEGIN IMMEDIATE: they take
    the write lock up front (waiting for it under the busy timeout), because a deferred
    transaction that reads, then writes, fails at once with "database is locked" when
    another writer committed in between. Readers take a snapshot and no lock.

    Done here, straight on the driver's connection, rather than in a "begin" engine
    event: any engine event makes SQLAlchemy dispatch events on every statement, which
    costs more than the statements. (pysqlite runs in autocommit mode, see
    _sqlite_pragmas, so this BEGIN is the transaction that commit() and rollback() end.)"""
    connection.begin()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        driver.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; a no-op when it is already there."""
    command.upgrade(alembic_config(engine), revision)
