"""Alembic migrations of the store (run by ``cleanroom.store.init_db``)."""
