"""Smoke test of the benchmark harness: the smallest size, one repetition, into a temp file.

Only checks that every default figure produced its markdown table; never timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKERS = (
    "machine", "ingest", "validate", "runs", "runs_stages", "server", "ledger", "console",
)  # fmt: skip


def test_harness_writes_every_table(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text(
        "# Benchmarks\n\nprose kept\n\n<!-- bench:ingest -->\nold\n<!-- /bench:ingest -->\n"
    )
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "--size", "small", "--repeat", "1",
            "--out", str(out), "--scratch", str(tmp_path),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "prose kept" in text
    assert "\nold\n" not in text
    for marker in MARKERS:
        begin, end = f"<!-- bench:{marker} -->", f"<!-- /bench:{marker} -->"
        assert text.count(begin) == 1, marker
        assert text.count(end) == 1, marker
        block = text.split(begin)[1].split(end)[0]
        assert block.strip().startswith("| "), marker
        assert "|---|" in block, marker
    # The scratch directory is removed after the run.
    assert not list(tmp_path.glob("cleanroom-bench-*"))
