"""Template policy: parse, bind, check, rewrite and transpile partner SQL (sqlglot only; no I/O).

Entry points: :func:`parse_template_file`, :func:`analyze_template`, :func:`compile_template`,
:func:`template_pin`. docs/template-language.md is the reference and lists
every violation code.
"""

from cleanroom.policy.analysis import Analysis
from cleanroom.policy.api import analyze_template, compile_template
from cleanroom.policy.bind import parameter_problems
from cleanroom.policy.header import TemplateSource, parse_template_file
from cleanroom.policy.parse import MAX_TEXT as MAX_SQL_CHARS
from cleanroom.policy.pin import template_pin
from cleanroom.policy.plain import bind_template_sql
from cleanroom.policy.rewrite_release import partials_query

__all__ = [
    "MAX_SQL_CHARS",
    "Analysis",
    "TemplateSource",
    "analyze_template",
    "bind_template_sql",
    "compile_template",
    "parameter_problems",
    "parse_template_file",
    "partials_query",
    "template_pin",
]
