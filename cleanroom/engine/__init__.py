"""Query engines that run already-rewritten SQL over registered dataset files (DuckDB, Spark).

``make_engine(settings)`` picks one by ``settings.engine``. Engines never see templates: they get
SQL that ``policy`` transpiled to their dialect, the run's dataset views (``dataset_view(name)``
-> file path or URI) and the suppressed ``pid`` keys, and return a ``pyarrow.Table``.
"""

from __future__ import annotations

from cleanroom.config import Settings
from cleanroom.engine.base import Engine, suppression_table
from cleanroom.engine.duckdb_engine import DuckDBEngine
from cleanroom.engine.spark_engine import SparkEngine
from cleanroom.errors import ConfigError

__all__ = ["DuckDBEngine", "Engine", "SparkEngine", "make_engine", "suppression_table"]


def make_engine(settings: Settings) -> Engine:
    """The engine ``settings.engine`` names (``duckdb`` or ``spark``)."""
    if settings.engine == "duckdb":
        return DuckDBEngine(settings)
    if settings.engine == "spark":
        return SparkEngine(settings)
    raise ConfigError(f"setting 'engine' must be duckdb or spark, not {settings.engine!r}")
