"""Settings, declared once: name, type, default and help.

Loaded from ``configs/default.toml`` (or the file named by ``CLEANROOM_CONFIG``), then overridden by
``CLEANROOM_<NAME>`` environment variables. Unknown keys and values of the wrong type fail at
start-up with a message naming the setting. In ``development`` mode missing secrets are generated
once per data directory (and said so); ``production`` refuses to start without them.

>>> s = load_settings(env={"CLEANROOM_DATA_DIR": "/tmp/x", "CLEANROOM_ENGINE_THREADS": "2",
...                        "CLEANROOM_SECRET_KEY": "k", "CLEANROOM_JWT_SECRET": "j"},
...                   config_file=None)
>>> s.engine_threads, s.data_dir.name
(2, 'x')
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanroom.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "mode",
        str,
        "development",
        "development or production; production requires explicit secrets.",
        ("development", "production"),
    ),
    Setting(
        "data_dir",
        str,
        "./data",
        "Directory for dataset files, reports and the default SQLite database.",
    ),
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL of the metadata store; empty means SQLite at <data_dir>/cleanroom.db.",
    ),
    Setting(
        "secret_key",
        str,
        "",
        "Server secret from which per-collaboration identifier keys are derived (HKDF-SHA256).",
    ),
    Setting(
        "jwt_secret", str, "", "HS256 secret that verifies bearer tokens (and signs dev tokens)."
    ),
    Setting(
        "jwt_public_keys",
        str,
        "",
        "Path of a JWKS file with RS256/ES256 public keys; when set, HS256 is not accepted.",
    ),
    Setting(
        "jwt_jwks_url",
        str,
        "",
        "URL of an identity provider's JWKS (RS256/ES256 public keys), fetched and cached; "
        "when set, HS256 is not accepted.",
    ),
    Setting(
        "jwt_oidc_issuer",
        str,
        "",
        "Issuer URL of an OpenID Connect provider: its discovery document names the JWKS, and "
        "tokens' `iss` must equal it; when set, HS256 is not accepted.",
    ),
    Setting(
        "jwt_jwks_cache_seconds",
        int,
        300,
        "How long fetched identity-provider keys are used before they are fetched again.",
    ),
    Setting(
        "jwt_jwks_refetch_seconds",
        int,
        30,
        "Fewest seconds between early refetches of the keys (a token with an unknown `kid`, "
        "or a failed fetch).",
    ),
    Setting("jwt_jwks_timeout_seconds", int, 5, "Timeout of one request to the identity provider."),
    Setting("jwt_issuer", str, "cleanroom", "Required `iss` claim of bearer tokens."),
    Setting("jwt_audience", str, "cleanroom-api", "Required `aud` claim of bearer tokens."),
    Setting(
        "jwt_leeway_seconds", int, 30, "Clock skew tolerated when checking `exp`, `nbf` and `iat`."
    ),
    Setting("jwt_subject_claim", str, "sub", "The token claim that names the user."),
    Setting("jwt_org_claim", str, "org", "The token claim that names the organisation (tenant)."),
    Setting(
        "jwt_role_claim",
        str,
        "role",
        "The token claim that carries the role: a string, or a list such as `groups`.",
    ),
    Setting(
        "jwt_role_map",
        dict,
        (),
        "Table from values of the role claim to roles, e.g. "
        '`{"cr-retailer-admins" = "retailer_admin"}`; empty: the claim holds the role itself.',
    ),
    Setting(
        "engine", str, "duckdb", "Query engine: duckdb (embedded) or spark.", ("duckdb", "spark")
    ),
    Setting("engine_memory_limit", str, "4GB", "Memory limit of each DuckDB run."),
    Setting(
        "engine_spill_limit",
        str,
        "8GB",
        "Most a DuckDB run may spill to disk; a run that needs more fails (execution_failed).",
    ),
    Setting("engine_threads", int, 2, "Threads of each DuckDB run."),
    Setting(
        "engine_timeout_seconds", int, 600, "A run's query is interrupted after this many seconds."
    ),
    Setting(
        "spark_master", str, "local[2]", "Spark master URL (local[N], spark://, yarn, k8s://)."
    ),
    Setting("spark_shuffle_partitions", int, 8, "spark.sql.shuffle.partitions."),
    Setting("spark_executor_memory", str, "2g", "spark.executor.memory."),
    Setting(
        "spark_data_uri",
        str,
        "",
        "Data root as Spark sees it (e.g. s3a://bucket/cleanroom); empty means data_dir.",
    ),
    Setting(
        "max_upload_bytes",
        int,
        2 * 1024**3,
        "Largest accepted upload; larger ones get payload_too_large.",
    ),
    Setting(
        "max_row_bytes",
        int,
        1024**2,
        "Longest accepted CSV row in bytes; a longer one is refused, naming the row.",
    ),
    Setting(
        "max_decompressed_bytes",
        int,
        2 * 1024**3,
        "Largest a gzipped CSV may be once decompressed; larger ones get payload_too_large.",
    ),
    Setting(
        "ingest_memory_limit",
        str,
        "4GB",
        "Memory limit of the DuckDB connection that reads one upload.",
    ),
    Setting(
        "worker_threads",
        int,
        2,
        "Run-executing threads inside each server process (0: use `cleanroom worker`).",
    ),
    Setting(
        "run_heartbeat_seconds",
        int,
        5,
        "A running run's heartbeat period; a run silent for four periods lost its worker.",
    ),
    Setting(
        "min_free_disk_bytes",
        int,
        1024**3,
        "/readyz fails (disk) when the data volume has less free space than this.",
    ),
    Setting(
        "rate_limit_per_principal",
        int,
        60,
        "Uploads, runs and previews (each) one principal may make a minute, per server "
        "process; 0 disables.",
    ),
    Setting(
        "rate_limit_per_address",
        int,
        120,
        "Uploads, runs and previews (each) one client address may make a minute, per server "
        "process; 0 disables.",
    ),
    Setting(
        "metrics",
        str,
        "token",
        "GET /metrics: token (needs 'Authorization: Bearer <metrics_token>'; not found while no "
        "token is set), open (no token: internal networks only) or off (not found).",
        ("token", "open", "off"),
    ),
    Setting(
        "metrics_token",
        str,
        "",
        "The operator token GET /metrics needs when metrics is token (16 bytes or more).",
    ),
    Setting("host", str, "127.0.0.1", "Address `cleanroom serve` binds."),
    Setting("port", int, 8000, "Port `cleanroom serve` binds."),
    Setting("gunicorn_workers", int, 2, "gunicorn worker processes for `cleanroom serve`."),
    Setting(
        "http_threads",
        int,
        32,
        "Request threads per gunicorn worker: requests being handled or sending a body each "
        "hold one; connections still sending headers hold none. A quarter (at least one) "
        "serve only requests without a body.",
    ),
    Setting(
        "http_max_connections",
        int,
        1000,
        "Open connections per gunicorn worker; more wait in the listen backlog.",
    ),
    Setting(
        "http_header_timeout_seconds",
        int,
        10,
        "A request line and headers not complete this long after the connection opened (or "
        "was reused) get 408 request_timeout and the connection is closed.",
    ),
    Setting(
        "http_io_timeout_seconds",
        int,
        30,
        "Longest wait for one read of a request body or one write of a response; a client "
        "silent for longer is cut off.",
    ),
    Setting(
        "http_min_body_rate",
        int,
        4096,
        "Slowest average rate (bytes/s) a request body may arrive at, after a grace of "
        "http_io_timeout_seconds; a slower one gets 408 request_timeout. 0: no minimum.",
    ),
    Setting("log_level", str, "info", "Log level.", ("debug", "info", "warning", "error")),
    Setting(
        "log_format",
        str,
        "text",
        "Server log lines: text, or json (one object a line, with the request id).",
        ("text", "json"),
    ),
    Setting("api_url", str, "http://127.0.0.1:8000", "Client commands: the server's base URL."),
    Setting("token", str, "", "Client commands: the bearer token sent to the server."),
    Setting(
        "noise",
        str,
        "auto",
        "Noise for runs: auto (per measurement, discrete Laplace or zCDP-composed discrete "
        "Gaussian, whichever is tighter; Laplace when no delta is spent), laplace (pure DP), "
        "or gaussian (zCDP, needs delta).",
        ("auto", "laplace", "gaussian"),
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
ENV_PREFIX = "CLEANROOM_"
SECRET_SETTINGS = ("secret_key", "jwt_secret")
MIN_SECRET_BYTES = 32
# Where public keys come from instead of an HS256 jwt_secret (at most one may be set).
IDP_KEY_SETTINGS = ("jwt_public_keys", "jwt_jwks_url", "jwt_oidc_issuer")


@dataclass(frozen=True)
class Settings:
    mode: str
    data_dir: Path
    database_url: str
    secret_key: str
    jwt_secret: str
    jwt_public_keys: str
    jwt_jwks_url: str
    jwt_oidc_issuer: str
    jwt_jwks_cache_seconds: int
    jwt_jwks_refetch_seconds: int
    jwt_jwks_timeout_seconds: int
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway_seconds: int
    jwt_subject_claim: str
    jwt_org_claim: str
    jwt_role_claim: str
    jwt_role_map: tuple[tuple[str, str], ...]  # (claim value, role) pairs, sorted
    engine: str
    engine_memory_limit: str
    engine_spill_limit: str
    engine_threads: int
    engine_timeout_seconds: int
    spark_master: str
    spark_shuffle_partitions: int
    spark_executor_memory: str
    spark_data_uri: str
    max_upload_bytes: int
    max_row_bytes: int
    max_decompressed_bytes: int
    ingest_memory_limit: str
    worker_threads: int
    run_heartbeat_seconds: int
    min_free_disk_bytes: int
    rate_limit_per_principal: int
    rate_limit_per_address: int
    metrics: str
    metrics_token: str
    host: str
    port: int
    gunicorn_workers: int
    http_threads: int
    http_max_connections: int
    http_header_timeout_seconds: int
    http_io_timeout_seconds: int
    http_min_body_rate: int
    log_level: str
    log_format: str
    api_url: str
    token: str
    noise: str
    generated_secrets: tuple[str, ...] = field(default=())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'cleanroom.db').resolve()}"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if setting.type is int:
        if isinstance(value, bool):
            raise ConfigError(f"{origin}: setting '{setting.name}' must be an integer")
        if isinstance(value, int):
            result: Any = value
        elif isinstance(value, str):
            try:
                result = int(value.strip())
            except ValueError:
                raise ConfigError(
                    f"{origin}: setting '{setting.name}' must be an integer"
                ) from None
        else:
            raise ConfigError(f"{origin}: setting '{setting.name}' must be an integer")
    elif setting.type is dict:
        result = _coerce_table(setting, value, origin)
    elif setting.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: setting '{setting.name}' must be a string")
        result = value
    else:  # pragma: no cover - every declared type is handled above
        raise ConfigError(f"setting '{setting.name}' has an unsupported type; this is a bug")
    if setting.choices and result not in setting.choices:
        raise ConfigError(
            f"{origin}: setting '{setting.name}' must be one of {', '.join(setting.choices)}"
        )
    return result


def _coerce_table(setting: Setting, value: Any, origin: str) -> tuple[tuple[str, str], ...]:
    """A table of strings: a TOML table, a JSON object (environment variables) or the pairs."""
    where = f"{origin}: setting '{setting.name}'"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ConfigError(f"{where} must be a JSON object of strings") from None
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where} must be a table of non-empty names to strings")
    return tuple(sorted(value.items()))


def default_config_file() -> Path | None:
    here = Path(__file__).resolve().parent.parent / "configs" / "default.toml"
    return here if here.is_file() else None


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | str | None = "auto",
    **overrides: Any,
) -> Settings:
    """Defaults, then the TOML file, then ``CLEANROOM_*`` variables, then ``overrides``."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    if config_file == "auto":
        named = env.get(ENV_PREFIX + "CONFIG")
        path: Path | None = Path(named) if named else default_config_file()
    else:
        path = Path(config_file) if config_file is not None else None
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc}") from None
        for key, value in data.items():
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting '{key}'")
            values[key] = _coerce(_BY_NAME[key], value, str(path))
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        if key.startswith(ENV_PREFIX + "TEST_"):
            continue  # test-suite variables (e.g. CLEANROOM_TEST_DATABASE_URL)
        name = key[len(ENV_PREFIX) :].lower()
        if name not in _BY_NAME:
            raise ConfigError(f"environment: unknown setting {key}")
        values[name] = _coerce(_BY_NAME[name], value, "environment")
    for name, value in overrides.items():
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting '{name}'")
        values[name] = value if name == "data_dir" else _coerce(_BY_NAME[name], value, "override")
    values["data_dir"] = Path(values["data_dir"])
    sources = [name for name in IDP_KEY_SETTINGS if values[name]]
    if len(sources) > 1:
        raise ConfigError(f"set only one of {', '.join(sources)}: each names where keys come from")
    generated: list[str] = []
    for name in SECRET_SETTINGS:
        if values[name]:
            continue
        if name == "jwt_secret" and any(values[k] for k in IDP_KEY_SETTINGS):
            continue
        if values["mode"] == "production":
            raise ConfigError(
                f"production mode needs an explicit {name} (set {ENV_PREFIX}{name.upper()})"
            )
        values[name] = _development_secret(values["data_dir"], name)
        generated.append(name)
    if values["mode"] == "production":
        for name in SECRET_SETTINGS:
            if values[name] and len(values[name].encode("utf-8")) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"production mode needs a {name} of at least {MIN_SECRET_BYTES} bytes "
                    f"(set {ENV_PREFIX}{name.upper()} to a long random value)"
                )
    return Settings(**values, generated_secrets=tuple(generated))


def _development_secret(data_dir: Path, name: str) -> str:
    """A development secret, generated once per data directory.

    It lives in ``<data_dir>/dev-secrets/<name>`` (mode 0600), never in the repository or the
    database, so that every worker process and every restart on the same data directory agree:
    identifiers re-keyed yesterday still join today. Production mode never gets here.
    """
    folder = data_dir / "dev-secrets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
        raise ConfigError(f"development secret file {path} is empty; delete it") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="ascii").strip()


WARNED_MARKER = "warned"  # in <data_dir>/dev-secrets: the warning was shown once already


def warn_generated_secrets(settings: Settings, every_time: bool = False) -> None:
    """Say that this data directory runs on generated development secrets: once per data
    directory for short commands (``cleanroom token``, ``init-db``), on every start for the
    server (``every_time``), whose log is where an operator looks."""
    if not settings.generated_secrets:
        return
    marker = settings.data_dir / "dev-secrets" / WARNED_MARKER
    if not every_time:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        except OSError:
            pass  # an unwritable marker: warn every time rather than never
        else:
            os.close(fd)
    if settings.generated_secrets:
        print(
            "cleanroom: development mode: using generated development "
            + ", ".join(settings.generated_secrets)
            + f" kept in {settings.data_dir / 'dev-secrets'}; set "
            + ", ".join(ENV_PREFIX + n.upper() for n in settings.generated_secrets)
            + " for real deployments",
            file=sys.stderr,
        )
