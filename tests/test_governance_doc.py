"""docs/governance.md: its Python example runs and prints what the page says it prints, and
every responsibility of the brief has a row."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "governance.md"


def test_the_fairness_example_prints_what_the_page_shows() -> None:
    text = DOC.read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(code) == 1
    printed = text.split(code[0], 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code[0], str(DOC), "exec"), {"__name__": "governance_doc"})
    assert out.getvalue() == printed


def test_every_responsibility_of_the_brief_has_a_row() -> None:
    rows = re.findall(r"^\| \*\*(.+?)\*\* \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    for duty in ("Data minimization", "Consent and purpose limits", "Retention",
                 "Suppression lists", "Bias testing", "Explainable numbers",
                 "Holdouts and uplift", "Human review and kill switches"):  # fmt: skip
        assert duty in rows, duty
