from pathlib import Path

import pytest

from cleanroom.config import SETTINGS, load_settings, warn_generated_secrets
from cleanroom.errors import ConfigError


def test_env_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("engine_threads = 3\nport = 9000\n")
    s = load_settings(
        env={"CLEANROOM_PORT": "9100", "CLEANROOM_SECRET_KEY": "a", "CLEANROOM_JWT_SECRET": "b"},
        config_file=cfg,
    )
    assert (s.engine_threads, s.port) == (3, 9100)
    assert s.generated_secrets == ()


def test_unknown_key_in_file_fails(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'no_such_setting'"):
        load_settings(env={}, config_file=cfg)


def test_unknown_env_variable_fails() -> None:
    with pytest.raises(ConfigError, match="CLEANROOM_NOPE"):
        load_settings(env={"CLEANROOM_NOPE": "1"}, config_file=None)


def test_wrong_type_fails_with_setting_name() -> None:
    with pytest.raises(ConfigError, match="'port' must be an integer"):
        load_settings(env={"CLEANROOM_PORT": "eighty"}, config_file=None)


def test_choices_are_enforced() -> None:
    with pytest.raises(ConfigError, match="'engine' must be one of duckdb, spark"):
        load_settings(env={"CLEANROOM_ENGINE": "oracle"}, config_file=None)


def test_production_refuses_to_start_without_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="production mode needs an explicit secret_key"):
        load_settings(
            env={"CLEANROOM_MODE": "production", "CLEANROOM_DATA_DIR": str(tmp_path)},
            config_file=None,
        )


@pytest.mark.parametrize("short", ["secret_key", "jwt_secret"])
def test_production_refuses_secrets_shorter_than_32_bytes(tmp_path: Path, short: str) -> None:
    secrets = {"secret_key": "s" * 32, "jwt_secret": "j" * 32, short: "x" * 31}
    with pytest.raises(ConfigError, match=f"needs a {short} of at least 32 bytes"):
        load_settings(env={}, config_file=None, mode="production", data_dir=tmp_path, **secrets)
    secrets[short] = "x" * 32
    assert load_settings(env={}, config_file=None, mode="production", data_dir=tmp_path, **secrets)


def test_development_warning_is_shown_once_per_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(env={"CLEANROOM_DATA_DIR": str(tmp_path)}, config_file=None)
    for _ in range(3):
        warn_generated_secrets(settings)
    assert capsys.readouterr().err.count("development mode") == 1
    warn_generated_secrets(settings, every_time=True)  # the server says it on every start
    assert capsys.readouterr().err.count("development mode") == 1


def test_development_generates_secrets_once_per_data_dir(tmp_path: Path) -> None:
    env = {"CLEANROOM_DATA_DIR": str(tmp_path)}
    first = load_settings(env=env, config_file=None)
    second = load_settings(env=env, config_file=None)
    assert set(first.generated_secrets) == {"secret_key", "jwt_secret"}
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert (tmp_path / "dev-secrets" / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_is_in_default_toml_or_secret() -> None:
    text = (Path(__file__).parent.parent / "configs" / "default.toml").read_text()
    for s in SETTINGS:
        if s.name in (
            "secret_key",
            "jwt_secret",
            "jwt_public_keys",
            "spark_data_uri",
            "token",
            "metrics_token",
        ):
            continue
        assert f"{s.name} =" in text, s.name
