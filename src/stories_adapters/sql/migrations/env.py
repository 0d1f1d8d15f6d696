"""Alembic environment: runs against the engine the caller put in the config."""

from alembic import context

from stories_adapters.sql.engine import begin
from stories_adapters.sql.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    begin(connection)  # one transaction: concurrent first starts migrate one at a time
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
