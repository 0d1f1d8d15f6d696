"""Alembic environment: runs against the engine the caller put in the config."""

from alembic import context

from stories_adapters.sql.engine import begin
from stories_adapters.sql.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table (copy, drop, rename). With foreign keys on,
        # dropping the old table would cascade-delete every row that refers to it. The
        # pragma only takes effect outside a transaction, hence before begin().
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        begin(connection)  # one transaction: concurrent first starts migrate one at a time
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:  # the connection goes back to the pool as the application expects it
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
