"""Ingestion: CSV/Parquet to validated, minimized, re-keyed Parquet.

Server side: :func:`ingest_dataset` (datasets), :func:`rekey_identifiers` and
:func:`rekey_identifier_file` (suppression lists), :func:`collaboration_key` and
:func:`pid_for_digest` (docs/privacy.md); :class:`ReadLimits` bounds what one ingestion may use;
:func:`dataset_figures` counts a stored file's consent and suppression matches (exact, for the
owner's governance KPIs). Uploaded identifiers are digests already: partners hash them with
``cleanroom.client.hashing`` (``cleanroom hash``), and ingestion refuses raw emails and phone
numbers.
"""

from cleanroom.ingest.atomic_parquet import ProgressHook
from cleanroom.ingest.dataset import PID_TYPE, IngestResult, ingest_dataset
from cleanroom.ingest.figures import ConsentFigures, DatasetFigures, dataset_figures
from cleanroom.ingest.keys import collaboration_key, pid_for_digest
from cleanroom.ingest.source import ReadLimits
from cleanroom.ingest.suppressions import rekey_identifier_file, rekey_identifiers

__all__ = [
    "PID_TYPE",
    "ConsentFigures",
    "DatasetFigures",
    "IngestResult",
    "ProgressHook",
    "ReadLimits",
    "collaboration_key",
    "dataset_figures",
    "ingest_dataset",
    "pid_for_digest",
    "rekey_identifier_file",
    "rekey_identifiers",
]
