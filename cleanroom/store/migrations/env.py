"""Alembic environment, run programmatically by ``Store.migrate()`` (no alembic.ini).

``migrate()`` passes an open connection (already in a transaction) in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from cleanroom.store.models import Base


def run_migrations() -> None:
    """Run the pending migrations on the connection handed over by ``Store.migrate()``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through cleanroom.store.init_db(); this is a bug")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables in later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


# Alembic's context only exists while Alembic runs this file; importing it elsewhere (doctest
# collection, tooling) must be harmless.
if hasattr(context, "config"):
    run_migrations()
