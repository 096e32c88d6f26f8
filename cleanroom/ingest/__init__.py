"""Ingestion: CSV/Parquet to validated, minimized, re-keyed Parquet; identifier hashing."""
