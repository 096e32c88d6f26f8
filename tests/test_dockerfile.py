"""The Dockerfile installs the package as pyproject.toml declares it and serves it as configured.

No Docker engine is needed: the Dockerfile is read as text, its instructions checked against
pyproject.toml, configs/default.toml and the files of the repository.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def args_of(keyword: str) -> list[str]:
    return [rest for key, rest in instructions() if key == keyword]


def shell_words(rest: str) -> str:
    """A CMD/RUN/HEALTHCHECK command as one string (exec form JSON arrays are joined)."""
    text = rest
    if text.startswith("CMD "):
        text = text[4:]
    if text.startswith("["):
        return " ".join(json.loads(text))
    return text


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_base_image_is_a_slim_python_the_package_supports() -> None:
    (base,) = args_of("FROM")
    match = re.fullmatch(r"python:(3\.\d+)-slim", base)
    assert match, base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=\s*(3\.\d+)", requires)
    assert minimum
    assert _version(match.group(1)) >= _version(minimum.group(1))


def test_installs_the_same_package_as_the_readme() -> None:
    runs = " && ".join(args_of("RUN"))
    installs = re.findall(r"pip install ([^&;]+)", runs)
    assert [i.strip() for i in installs] == ["."], "exactly one `pip install .` (no extras, no -e)"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    copied = [rest.split()[:-1] for rest in args_of("COPY")]
    sources = {s.rstrip("/") for group in copied for s in group}
    package = project["name"]
    assert {"pyproject.toml", package} <= sources
    assert project.get("readme", "README.md") in sources


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for rest in args_of("COPY"):
        for source in rest.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_exposes_the_configured_default_port() -> None:
    port = tomllib.loads((ROOT / "configs" / "default.toml").read_text())["port"]
    assert args_of("EXPOSE") == [str(port)]
    (check,) = args_of("HEALTHCHECK")
    assert f"'{port}'" in check or f":{port}/" in check


def test_runs_as_a_non_root_user() -> None:
    order = [key for key, _ in instructions()]
    users = args_of("USER")
    assert users, "no USER instruction: the server would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert order.index("USER") < order.index("CMD")


def test_healthcheck_probes_healthz_with_python() -> None:
    (check,) = args_of("HEALTHCHECK")
    command = shell_words(check[check.index("CMD ") :])
    assert "/healthz" in command
    assert command.startswith("python ")
    assert "curl" not in command
    assert "wget" not in command


def test_data_directory_is_a_volume() -> None:
    assert args_of("VOLUME") == ["/data"]
    env = " ".join(args_of("ENV"))
    assert re.search(r"\bCLEANROOM_DATA_DIR=/data\b", env)


def test_migrates_then_serves_on_all_interfaces() -> None:
    (cmd,) = args_of("CMD")
    command = shell_words(cmd)
    assert command.index("cleanroom init-db") < command.index("cleanroom serve")
    assert "--host 0.0.0.0" in command
    config = re.search(r"--config (\S+)", command)
    assert config, "the installed package has no configs/: name the gunicorn config"
    assert config.group(1).startswith("/app/configs/")
    assert (ROOT / "configs" / Path(config.group(1)).name).is_file()


@pytest.mark.parametrize("setting", ["CLEANROOM_CONFIG", "CLEANROOM_MODE"])
def test_settings_point_at_the_copied_configuration(setting: str) -> None:
    env = " ".join(args_of("ENV"))
    match = re.search(rf"\b{setting}=(\S+)", env)
    assert match, setting
    if setting == "CLEANROOM_CONFIG":
        assert (ROOT / "configs" / Path(match.group(1)).name).is_file()
    else:
        assert match.group(1) == "production"
