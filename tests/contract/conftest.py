"""One suite, run against the fake and every real adapter of a port."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from stories_adapters.sql.engine import make_engine, migrate
from stories_adapters.sql.repository import SqlUnitOfWork
from tests.fakes import InMemoryDatabase


@pytest.fixture(params=["memory", "sqlite"])
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "memory":
        yield InMemoryDatabase()
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    migrate(engine)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()
