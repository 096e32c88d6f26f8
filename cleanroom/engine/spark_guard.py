"""A lexical guard for the Spark SQL an engine run accepts.

Spark has no equivalent of DuckDB's ``enable_external_access`` / ``lock_configuration``: a ``SET``
can turn ``spark.sql.runSQLOnFiles`` back on, ``reflect`` calls Java methods, ``CREATE TABLE ...
LOCATION`` reads any path. ``policy`` rejects all of these in templates; this guard refuses them
again at the engine, in case a rewrite bug lets one through. It accepts one ``SELECT``/``WITH``
statement, without command keywords, denied functions or backquoted paths.

>>> check_spark_select("SELECT a, COUNT(*) FROM cr_ds_t GROUP BY a;")
>>> check_spark_select("SELECT reflect('java.lang.System', 'getenv', 'HOME')")
Traceback (most recent call last):
...
cleanroom.errors.ExecutionFailed: the query calls a function the engine does not allow
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cleanroom.errors import ExecutionFailed

COMMAND_WORDS = frozenset(
    {
        "insert", "overwrite", "directory", "create", "drop", "alter", "set", "reset", "add",
        "load", "cache", "uncache", "refresh", "msck", "truncate", "delete", "update", "merge",
        "use", "declare", "execute", "call", "describe", "show", "explain", "analyze", "begin",
        "repair", "grant", "revoke", "export", "import",
    }
)  # fmt: skip
DENIED_FUNCTIONS = frozenset(
    {
        "reflect", "java_method", "try_reflect", "input_file_name", "input_file_block_start",
        "input_file_block_length", "read_files", "current_user", "session_user", "user",
        "identifier", "current_catalog", "current_database", "current_schema", "version",
        "from_avro", "from_protobuf", "to_protobuf", "spark_partition_id",
    }
)  # fmt: skip
BARE_DENIED = frozenset({"current_user", "session_user"})


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted (backquoted identifier), string, number, symbol
    text: str


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?[A-Za-z]*|\.\d+(?:[eE][-+]?\d+)?[A-Za-z]*")


def tokenize(sql: str) -> list[Token]:
    """Words, backquoted identifiers, strings, numbers and symbols; comments dropped."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in "'\"":
            i, text = _read_quoted(sql, i, ch, backslash=True)
            tokens.append(Token("string", text))
        elif ch == "`":
            i, text = _read_quoted(sql, i, "`", backslash=False)
            tokens.append(Token("quoted", text))
        elif match := _WORD.match(sql, i):
            end = match.end()
            if match.group() in ("r", "R") and end < n and sql[end] in "'\"":
                # A raw string: backslashes escape nothing, as Spark reads it.
                i, text = _read_quoted(sql, end, sql[end], backslash=False)
                tokens.append(Token("string", text))
            else:
                tokens.append(Token("word", match.group().lower()))
                i = end
        elif match := _NUMBER.match(sql, i):
            tokens.append(Token("number", match.group()))
            i = match.end()
        else:
            tokens.append(Token("symbol", ch))
            i += 1
    return tokens


def _skip_block_comment(sql: str, i: int) -> int:
    depth, i = 0, i
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise ExecutionFailed("the query has an unterminated comment")


def _read_quoted(sql: str, i: int, quote: str, *, backslash: bool) -> tuple[int, str]:
    out: list[str] = []
    i += 1
    while i < len(sql):
        ch = sql[i]
        if backslash and ch == "\\" and i + 1 < len(sql):
            out.append(sql[i + 1])
            i += 2
        elif ch == quote and sql.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif ch == quote:
            return i + 1, "".join(out)
        else:
            out.append(ch)
            i += 1
    raise ExecutionFailed("the query has an unterminated quoted text")


def check_spark_select(sql: str) -> None:
    """Raise ExecutionFailed unless ``sql`` is one plain query (see the module docstring)."""
    tokens = tokenize(sql)
    while tokens and tokens[-1] == Token("symbol", ";"):
        tokens.pop()
    if not tokens or tokens[0].kind != "word" or tokens[0].text not in ("select", "with"):
        raise ExecutionFailed("the engine runs exactly one SELECT statement per run")
    for index, token in enumerate(tokens):
        if token == Token("symbol", ";"):
            raise ExecutionFailed("the engine runs exactly one SELECT statement per run")
        if token.kind == "quoted" and ("/" in token.text or ":" in token.text):
            raise ExecutionFailed("the query names a file path, which the engine does not allow")
        if token.kind != "word":
            continue
        if token.text in COMMAND_WORDS:
            raise ExecutionFailed("the engine runs exactly one SELECT statement per run")
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        called = following == Token("symbol", "(")
        if (called and token.text in DENIED_FUNCTIONS) or token.text in BARE_DENIED:
            raise ExecutionFailed("the query calls a function the engine does not allow")
