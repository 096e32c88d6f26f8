"""Local commands on a real store and data directory: init-db, hash, worker --once,
purge-expired."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import Services, build_services
from cleanroom.services.datasets import register_dataset
from cleanroom.services.maintenance import migrate, schema_status
from cleanroom.services.requests import DatasetRegistration
from cleanroom.store import open_store
from tests.cli.cli_world import POLICY, RETAILER, SPEC, command_env, queue_run, write_inputs


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_init_db_migrates_and_is_idempotent(pg_settings: Settings) -> None:
    runner = CliRunner()
    env = command_env(pg_settings)
    for _ in range(2):
        result = runner.invoke(cli, ["init-db"], env=env)
        assert result.exit_code == 0, result.output
        assert "newest schema" in result.stdout
    store = open_store(pg_settings.effective_database_url)
    try:
        assert store.ping()
    finally:
        store.close()


def test_init_db_defaults_to_sqlite_in_the_data_dir(cli_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["init-db"], env=command_env(cli_settings))
    assert result.exit_code == 0, result.output
    assert f"sqlite:///{(cli_settings.data_dir / 'cleanroom.db').resolve()}" in result.stdout
    assert (cli_settings.data_dir / "cleanroom.db").is_file()


def test_init_db_never_prints_a_password(cli_settings: Settings) -> None:
    env = command_env(cli_settings)
    env["CLEANROOM_DATABASE_URL"] = "postgresql+psycopg://app:hunter2@127.0.0.1:1/none"
    result = CliRunner().invoke(cli, ["init-db"], env=env)
    assert "hunter2" not in result.output


def test_hash_emails_end_to_end_counts_invalid_rows(tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_text(
        "id,email,segment\n"
        "1,Jane.Doe+news@GMAIL.com,loyal\n"
        "2, bob@Example.com ,lapsed\n"
        "3,not-an-email,loyal\n"
        "4,,prospect\n",
        encoding="utf-8",
    )
    out = tmp_path / "crm-hashed.csv"
    result = CliRunner().invoke(cli, ["hash", "--kind", "email", str(source), str(out)])
    assert result.exit_code == 0, result.output
    assert "rows: 4  hashed: 2  invalid: 2" in result.stdout
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["email"] for r in rows] == [
        _sha("janedoe@gmail.com"),
        _sha("bob@example.com"),
        "",
        "",
    ]
    assert [r["segment"] for r in rows] == ["loyal", "lapsed", "loyal", "prospect"]


def test_hash_phones_with_a_default_region(tmp_path: Path) -> None:
    source = tmp_path / "phones.csv"
    source.write_text("mobile\n(201) 555-0123\n+44 20 7946 0958\nnope\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        cli,
        ["hash", "--kind", "phone", "--column", "mobile", "--default-region", "US",
         str(source), str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows: 3  hashed: 2  invalid: 1" in result.stdout
    hashed = out.read_text(encoding="utf-8").splitlines()
    assert hashed[1:3] == [_sha("+12015550123"), _sha("+442079460958")]


def test_hash_exits_1_on_a_missing_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("email\na@example.com\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        cli, ["hash", "--kind", "email", "--column", "mail", str(source), str(out)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid_request: ")
    assert "mail" in result.stderr
    assert not out.exists()


def test_worker_once_executes_the_queued_runs(cli_settings: Settings, inputs: Path) -> None:
    svc = build_services(cli_settings, migrate=True)
    try:
        collab_id, run_id = queue_run(svc, inputs)
    finally:
        svc.close()
    result = CliRunner().invoke(cli, ["worker", "--once"], env=command_env(cli_settings))
    assert result.exit_code == 0, result.output
    assert "executed 1 run(s)" in result.stdout
    store = open_store(cli_settings.effective_database_url)
    try:
        run = store.get_run(run_id, collaboration_id=collab_id)
        assert (run.status, run.progress) == ("succeeded", 1.0)
        report = store.get_report(run_id, collaboration_id=collab_id).data()
        assert report["columns"] == ["campaign_id", "reach"]
    finally:
        store.close()
    again = CliRunner().invoke(cli, ["worker", "--once"], env=command_env(cli_settings))
    assert "executed 0 run(s)" in again.stdout


def test_purge_expired_deletes_expired_files(cli_settings: Settings, inputs: Path) -> None:
    # Register the dataset "40 days ago": its 30-day retention has run out by now.
    past = datetime.now(UTC) - timedelta(days=40)
    build_services(cli_settings, migrate=True).close()
    svc = Services(
        cli_settings, open_store(cli_settings.effective_database_url, clock=lambda: past)
    )
    try:
        paths = write_inputs(inputs)
        collab = create_collaboration(svc, RETAILER, "purge", ["acme"], POLICY)
        registered = register_dataset(
            svc, RETAILER, collab.id, paths["data"], DatasetRegistration.from_json(SPEC)
        )
    finally:
        svc.close()
    (stored,) = (cli_settings.datasets_dir / collab.id).glob("*.parquet")
    assert registered["current_version"]["version"] == 1
    assert stored.is_file()
    result = CliRunner().invoke(cli, ["purge-expired"], env=command_env(cli_settings))
    assert result.exit_code == 0, result.output
    assert "purged 1 expired dataset version(s)" in result.stdout
    assert not stored.exists()
    again = CliRunner().invoke(cli, ["purge-expired"], env=command_env(cli_settings))
    assert "purged 0 expired" in again.stdout


# Should the check ever pass, serve stops at this missing gunicorn config instead of exec-ing.
NO_SERVER = ["serve", "--config", "/nonexistent/gunicorn.conf.py"]


def _production_env(settings: Settings) -> dict[str, str | None]:
    env = command_env(settings)
    env.update(CLEANROOM_MODE="production", CLEANROOM_SECRET_KEY="s" * 32)
    return env


def test_production_serve_and_worker_refuse_a_store_not_migrated_and_never_migrate_it(
    cli_settings: Settings,
) -> None:
    url = cli_settings.effective_database_url
    cli_settings.data_dir.mkdir(parents=True, exist_ok=True)
    for command in (NO_SERVER, ["worker", "--once"]):
        result = CliRunner().invoke(cli, command, env=_production_env(cli_settings))
        assert result.exit_code == 1, result.output
        assert "is at no schema, not the newest migration" in result.stderr
        assert "run `cleanroom init-db` once" in result.stderr
        status = schema_status(url)
        assert (status.current, len(status.heads)) == ((), 1), "serve and worker must not migrate"
    # After the one-off job the worker starts (serve would exec gunicorn: tests/web serve it).
    assert CliRunner().invoke(cli, ["init-db"], env=_production_env(cli_settings)).exit_code == 0
    result = CliRunner().invoke(cli, ["worker", "--once"], env=_production_env(cli_settings))
    assert result.exit_code == 0, result.output
    assert "executed 0 run(s)" in result.stdout


def test_a_store_behind_the_newest_migration_is_named_with_its_revision(
    cli_settings: Settings,
) -> None:
    url = cli_settings.effective_database_url
    cli_settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(url)
    (head,) = schema_status(url).heads
    store = open_store(url)
    try:
        with store.engine.begin() as conn:  # as an older release left it
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0003'")
    finally:
        store.close()
    result = CliRunner().invoke(cli, NO_SERVER, env=_production_env(cli_settings))
    assert result.exit_code == 1
    assert f"is at 0003, not the newest migration ({head})" in result.stderr
    assert schema_status(url).current == ("0003",)
