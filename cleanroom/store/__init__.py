"""The metadata store: SQLAlchemy 2 models, Alembic migrations, ledger and audit chain."""
