"""Query engines that run already-rewritten SQL over registered dataset files (DuckDB, Spark)."""
