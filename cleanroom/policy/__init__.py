"""Template policy: parse, bind, check, rewrite and transpile partner SQL (sqlglot only; no I/O)."""
