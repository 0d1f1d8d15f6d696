"""The Alembic migrations, on a fresh PostgreSQL database and a fresh SQLite file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from stories_adapters.sql.engine import MIGRATIONS, alembic_config, make_engine, migrate
from stories_adapters.sql.tables import metadata
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
