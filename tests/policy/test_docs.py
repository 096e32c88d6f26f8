"""Every violation code the policy package can emit is documented with an example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PATTERNS = [
    r'(?:flag|add|add_at|add_offset)\(\s*"([a-z_]+)"',
    r'Unresolved\(\s*"([a-z_]+)"',
    r'Violation\("([a-z_]+)"',
    r'\("(?:distinct|qualify|offset)", "([a-z_]+)"\)',
    r'"([a-z_]+)" if isinstance\(\w+(?:\.this)?, exp\.SetOperation\)',
    r'exp\.SetOperation\) else "([a-z_]+)"',
]


def emitted_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "cleanroom" / "policy").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            codes |= set(re.findall(pattern, text, re.S))
    return codes


def test_every_code_is_documented() -> None:
    doc = (ROOT / "docs" / "template-language.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([a-z_]+)`$", doc, re.M))
    codes = emitted_codes()
    assert len(codes) >= 40
    assert codes - documented == set()
