"""docs/templates.md documents every shipped template, and its Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.demo.demo_exact import QUERIES, SHIPPED

DOC = QUERIES.parent / "docs" / "templates.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_template_has_a_complete_section(name: str) -> None:
    section = _sections()[name]
    for part in ("**Question.**", "**Parameters.**", "**Outputs**", "**Privacy cost.**"):
        assert part in section, (name, part)
    header = (QUERIES / f"{name}.sql").read_text(encoding="utf-8")
    for param in re.findall(r"^-- param: (\w+)", header, flags=re.M):
        assert f"`{param}" in section, (name, param)


def test_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "templates_doc"})
    assert "lift" in capsys.readouterr().out


def test_relative_links_resolve_or_are_sibling_docs() -> None:
    """Links to files of this repository exist (the sibling docs api.md and template-language.md
    are written with their own issues)."""
    text = DOC.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        if target in ("api.md", "template-language.md"):
            continue
        assert (DOC.parent / target).exists(), target
    anchors = set(_sections())
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in anchors, anchor


def test_doc_lists_the_same_templates_as_queries() -> None:
    names = {p.stem for p in Path(QUERIES).glob("*.sql")}
    assert names <= set(_sections())
