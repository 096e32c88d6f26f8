"""Parsing a template body into one sqlglot SELECT, with limits that keep hostile input cheap.

``:name`` parameters are turned into ``$name`` placeholders at the token level (same length, so
positions stay exact), which sqlglot's DuckDB dialect parses as ``Placeholder`` nodes.

>>> from cleanroom.policy.violations import ViolationCollector
>>> c = ViolationCollector("SELECT 1; SELECT 2")
>>> parse_select("SELECT 1; SELECT 2", c) is None, c.violations[0].code
(True, 'multiple_statements')
"""

from __future__ import annotations

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from cleanroom.policy.violations import ViolationCollector

MAX_TEXT = 100_000  # characters of SQL
MAX_TOKENS = 20_000
MAX_NODES = 20_000
MAX_PAREN_DEPTH = 32  # docs/template-language.md: nesting deeper than 32 is rejected
MAX_TREE_DEPTH = 400  # expression trees (long operator chains) deeper than this are rejected
# CTEs in one template: a chain of each reading the one before is as deep as it is long, and
# engines fail (after a run's charge) on chains far beyond what any template needs.
MAX_CTES = 64

_STARTS = (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN, TokenType.FROM)
_NAME_TOKENS_OK = (TokenType.VAR,)


def _scan_tokens(text: str, tokens: list[Token], collector: ViolationCollector) -> str | None:
    """Token-level checks; returns the text with ``:name`` parameters as ``$name``."""
    chars = list(text)
    depth = 0
    previous: Token | None = None
    for index, token in enumerate(tokens):
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                collector.add_offset(
                    "nesting_too_deep",
                    token.start,
                    f"parentheses, subqueries or CTEs nest deeper than {MAX_PAREN_DEPTH} levels",
                )
                return None
        elif kind == TokenType.R_PAREN:
            depth -= 1
        elif kind == TokenType.FROM and (
            previous is None or previous.token_type == TokenType.L_PAREN
        ):
            collector.add_offset(
                "from_first", token.start, "FROM-first syntax is not allowed; start with SELECT"
            )
        elif kind == TokenType.SEMICOLON and index + 1 < len(tokens):
            follower = tokens[index + 1]
            if follower.token_type != TokenType.SEMICOLON:
                collector.add_offset(
                    "multiple_statements",
                    follower.start,
                    "a template is exactly one statement; remove everything after the first ';'",
                )
                return None
        elif (
            kind == TokenType.COLON
            and index + 1 < len(tokens)
            and tokens[index + 1].start == token.end + 1
            and tokens[index + 1].text.replace("_", "a").isalnum()
            and tokens[index + 1].text[:1].isalpha()
            and (
                previous is None
                or previous.end + 1 < token.start
                or previous.token_type
                in (
                    TokenType.EQ,
                    TokenType.L_PAREN,
                    TokenType.COMMA,
                    TokenType.IN,
                )
                or previous.token_type.name
                in (
                    "NEQ",
                    "GT",
                    "GTE",
                    "LT",
                    "LTE",
                    "PLUS",
                    "DASH",
                    "STAR",
                    "SLASH",
                    "AND",
                    "OR",
                    "NOT",
                    "THEN",
                    "ELSE",
                    "WHEN",
                    "LIKE",
                    "BETWEEN",
                    "INTERVAL",
                )
            )
        ):
            chars[token.start] = "$"
        previous = token
    if tokens and tokens[0].token_type not in _STARTS:
        collector.add_offset(
            "not_select",
            tokens[0].start,
            f"only SELECT queries are allowed, not '{tokens[0].text.upper()}'",
        )
        return None
    return "".join(chars)


def _tree_depth(root: exp.Expr) -> int:
    deepest = 0
    stack: list[tuple[exp.Expr, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def parse_select(text: str, collector: ViolationCollector) -> exp.Select | None:
    """Parse ``text`` into one query, or record why it cannot be and return None."""
    if len(text) > MAX_TEXT:
        collector.add_at("too_large", f"the template exceeds {MAX_TEXT} characters", 0, 0)
        return None
    try:
        tokens = sqlglot.tokenize(text, read="duckdb")
    except TokenError:
        collector.add_offset("parse_error", 0, "the template cannot be tokenized (unclosed quote?)")
        return None
    if not tokens:
        collector.add_offset("parse_error", 0, "the template has no SQL")
        return None
    if len(tokens) > MAX_TOKENS:
        collector.add_at("too_large", f"the template has more than {MAX_TOKENS} tokens", 0, 0)
        return None
    rewritten = _scan_tokens(text, tokens, collector)
    if rewritten is None:
        return None
    try:
        statements = sqlglot.parse(rewritten, read="duckdb")
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = int(first.get("line") or 1), int(first.get("col") or 1)
        highlight = str(first.get("highlight") or "")
        col = max(1, col - len(highlight) + 1)
        description = str(first.get("description") or "invalid syntax").split(".")[0]
        collector.add_at(
            "parse_error", f"syntax error: {description}", line + collector.line_offset, col
        )
        return None
    except (TokenError, ValueError):
        collector.add_offset("parse_error", 0, "the template cannot be parsed")
        return None
    except RecursionError:
        collector.add_offset("nesting_too_deep", 0, "the template nests too deeply to analyze")
        return None
    found = [s for s in statements if s is not None]
    if len(found) != 1:
        collector.add_offset("multiple_statements", 0, "a template is exactly one statement")
        return None
    root = found[0]
    if isinstance(root, exp.SetOperation):
        collector.add("set_operation", root, "UNION, INTERSECT and EXCEPT are not allowed")
        return None
    if not isinstance(root, exp.Select):
        collector.add("not_select", root, "only SELECT queries are allowed")
        return None
    if not root.expressions:
        collector.add_offset("parse_error", 0, "the SELECT list is empty")
        return None
    count = sum(1 for _ in root.walk())
    if count > MAX_NODES:
        collector.add_at("too_large", f"the template has more than {MAX_NODES} syntax nodes", 0, 0)
        return None
    ctes = sum(1 for _ in root.find_all(exp.CTE))
    if ctes > MAX_CTES:
        collector.add_at("too_large", f"the template has more than {MAX_CTES} CTEs", 0, 0)
        return None
    if _tree_depth(root) > MAX_TREE_DEPTH:
        collector.add_offset("nesting_too_deep", 0, "the template's expressions nest too deeply")
        return None
    return root
