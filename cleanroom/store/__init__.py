"""The metadata store: SQLAlchemy 2 models, Alembic migrations, ledger and audit chain.

The only importer of SQLAlchemy and Alembic. Everything public is here; it returns frozen records
(``cleanroom.store.records``), never ORM objects.

    store = open_store(settings.effective_database_url())
    store.migrate()
    collab = store.create_collaboration("q3", "shopco", ["acme"], policy, "alice")
"""

from cleanroom.store.audit import GENESIS_HASH
from cleanroom.store.db import AuditArg, new_id, utcnow
from cleanroom.store.facade import Store, init_db, open_store, schema_revisions
from cleanroom.store.records import (
    AuditRecord,
    AuditVerification,
    BudgetLine,
    Collaboration,
    Dataset,
    DatasetVersion,
    Membership,
    Report,
    Run,
    RunCreation,
    Template,
)
from cleanroom.store.run_lifecycle import EXECUTION_FAILED
from cleanroom.store.totals import OperationalTotals

__all__ = [
    "EXECUTION_FAILED",
    "GENESIS_HASH",
    "AuditArg",
    "AuditRecord",
    "AuditVerification",
    "BudgetLine",
    "Collaboration",
    "Dataset",
    "DatasetVersion",
    "Membership",
    "OperationalTotals",
    "Report",
    "Run",
    "RunCreation",
    "Store",
    "Template",
    "init_db",
    "new_id",
    "open_store",
    "schema_revisions",
    "utcnow",
]
