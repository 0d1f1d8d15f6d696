"""One suite, run against the fake and every real adapter of a port."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from stories_adapters.sql.engine import make_engine, migrate
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.sql.tables import metadata
from stories_adapters.storage.local import LocalBlobStore
from tests.fakes import InMemoryBlobStore, InMemoryDatabase


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database, migrated to head once."""
    engine = make_engine(postgres_url, pool_size=5)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "memory":
        yield InMemoryDatabase()
        return
    if request.param == "postgres":
        # Looked up only for this parameter, so the other two never need the server.
        engine: Engine = request.getfixturevalue("postgres_engine")
        # Every test starts from empty tables (all of them, as the schema grows).
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        yield lambda: SqlUnitOfWork(engine)
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    migrate(engine)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


@pytest.fixture(params=["memory", "local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "memory":
        return InMemoryBlobStore()
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return request.getfixturevalue("s3_store")
