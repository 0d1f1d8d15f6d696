"""The API's hottest statements, run straight on the driver's cursor.

SQLAlchemy Core's per-execution machinery (execution context, parameter and result
set-up) costs several times what SQLite or PostgreSQL spend on a small statement, and
CreateJob and GetJob pay it on every request. A PreparedStatement compiles a Core
statement once per dialect (SQL text, paramstyle, casts) and applies the column types'
own bind and result processors, so values are stored and read exactly as Core does it:
the two paths mix freely in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any]


class PreparedStatement:
    def __init__(self, statement: Executable, dialect: Dialect, column_keys: Sequence[str]):
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) or None)
        self.sql = str(compiled)
        # Positional paramstyles (SQLite's "?") take values in the order they appear.
        self._order = list(compiled.positiontup or []) if compiled.positional else None
        self._binds: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._binds[name] = processor
        columns = statement.selected_columns if isinstance(statement, Select) else []
        self.names = [column.key for column in columns]
        self._results: list[tuple[int, Processor]] = []
        for index, column in enumerate(columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                self._results.append((index, processor))

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        processed = {
            name: self._binds[name](value) if name in self._binds else value
            for name, value in values.items()
        }
        if self._order is None:
            return processed
        return [processed[name] for name in self._order]

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A result row as {column key: value}, converted as Core would convert it."""
        values = list(raw)
        for index, processor in self._results:
            values[index] = processor(values[index])
        return dict(zip(self.names, values, strict=True))


@cache
def prepare(
    statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] = ()
) -> PreparedStatement:
    """Compiled once per statement, dialect and set of inserted columns (so pass only
    statements built once, at import: each new statement object is a new entry)."""
    return PreparedStatement(statement, dialect, column_keys)


def execute(
    connection: Connection, statement: PreparedStatement, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Run in the connection's current transaction; return the rows, if any."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement.sql, statement.parameters(values))
        return [statement.row(raw) for raw in cursor.fetchall()] if statement.names else []
    finally:
        cursor.close()


def execute_many(
    connection: Connection, statement: PreparedStatement, rows: Sequence[Mapping[str, Any]]
) -> None:
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(statement.sql, [statement.parameters(row) for row in rows])
    finally:
        cursor.close()
