"""Ingestion: CSV/Parquet to validated, minimized, re-keyed Parquet; identifier hashing.

Server side: :func:`ingest_dataset` (datasets), :func:`rekey_identifiers` and
:func:`rekey_identifier_file` (suppression lists), :func:`collaboration_key` and
:func:`pid_for_digest` (docs/privacy.md); :class:`ReadLimits` bounds what one ingestion may use;
:func:`dataset_figures` counts a stored file's consent and suppression matches (exact, for the
owner's governance KPIs).
Client side: :func:`hash_csv_file` and the ``normalize_*`` functions behind ``cleanroom hash``.
"""

from cleanroom.ingest.atomic_parquet import ProgressHook
from cleanroom.ingest.dataset import PID_TYPE, IngestResult, ingest_dataset
from cleanroom.ingest.figures import ConsentFigures, DatasetFigures, dataset_figures
from cleanroom.ingest.hash_file import HashStats, hash_csv_file
from cleanroom.ingest.keys import collaboration_key, pid_for_digest
from cleanroom.ingest.normalize import hash_normalized, normalize_email, normalize_phone
from cleanroom.ingest.source import ReadLimits
from cleanroom.ingest.suppressions import rekey_identifier_file, rekey_identifiers

__all__ = [
    "PID_TYPE",
    "ConsentFigures",
    "DatasetFigures",
    "HashStats",
    "IngestResult",
    "ProgressHook",
    "ReadLimits",
    "collaboration_key",
    "dataset_figures",
    "hash_csv_file",
    "hash_normalized",
    "ingest_dataset",
    "normalize_email",
    "normalize_phone",
    "pid_for_digest",
    "rekey_identifier_file",
    "rekey_identifiers",
]
