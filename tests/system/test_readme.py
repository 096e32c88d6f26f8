"""README's "Using it" runs as pasted: its shell block, with a free port in place of 8000, in a
fresh directory that has the repository's ``.venv`` and ``examples/`` (a real gunicorn server,
two parties, two tokens, a run and its report)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.system.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def using_it_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```console\n(.*?)```", section, re.S)
    assert match, "README's Using it has no console block"
    return match.group(1)


def test_readme_using_it_runs_as_pasted(tmp_path: Path) -> None:
    port = str(free_port())
    block = using_it_block().replace("8000", port)
    assert "export CLEANROOM_TOKEN=$ACME" in block
    assert "export CLEANROOM_TOKEN=$SHOPCO" in block
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = tmp_path / "using-it.sh"
    # Stop the server however the block ends; fail at the first command that fails.
    script.write_text(
        "set -euo pipefail\ntrap 'kill ${SERVER:-} 2>/dev/null || true' EXIT\n" + block,
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANROOM_")}
    env.update(CLEANROOM_API_URL=f"http://127.0.0.1:{port}", CLEANROOM_WORKER_THREADS="1",
               CLEANROOM_GUNICORN_WORKERS="1")  # fmt: skip
    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    log = tmp_path / "cleanroom.log"
    server_log = log.read_text(encoding="utf-8") if log.exists() else ""
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{server_log}"
    report = done.stdout.split("report run_", 1)[1]
    assert "crm_sales v1" in report
    assert "segment" in report
    assert "±" in report
    assert re.search(r"^acme\s+10\s+1e-06\s+1\s", done.stdout, re.M), done.stdout  # 1 of 10 spent
    # Said once by the commands (init-db, the first to see the data directory) and by the server.
    assert done.stderr.count("development mode") == 1
    assert "development mode" in server_log
