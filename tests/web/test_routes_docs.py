"""docs/api.md documents every ``/v1`` route (method and path) in its route tables."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_v1_route_is_in_docs_api_md(app: Flask) -> None:
    text = API_MD.read_text(encoding="utf-8")
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if f"| {method} | `{path}` |" not in text:
                missing.append(f"{method} {path}")
    assert not missing, "undocumented in docs/api.md: " + ", ".join(missing)
