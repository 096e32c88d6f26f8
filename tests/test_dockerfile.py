"""The Dockerfile installs the package as pyproject.toml declares it, from the lock files only, and
serves it as configured, without migrating on start.

No Docker engine is needed: the Dockerfile is read as text, its instructions checked against
pyproject.toml, the lock files, configs/default.toml and the files of the repository. The lock
files are checked against pyproject.toml and the installed packages' own metadata (the test
environment is installed from requirements/dev.lock, so every locked package is there to read).
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
LOCKS = ROOT / "requirements"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VENV = "/opt/cleanroom"


@dataclass
class Stage:
    name: str
    base: str
    body: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [rest for key, rest in self.body if key == keyword]


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


def global_args() -> dict[str, str]:
    """The ``ARG`` instructions before the first ``FROM``: name -> default."""
    out: dict[str, str] = {}
    for key, rest in instructions():
        if key == "FROM":
            break
        assert key == "ARG", f"{key} before the first FROM"
        name, _, default = rest.partition("=")
        out[name] = default
    return out


def stages() -> list[Stage]:
    out: list[Stage] = []
    for key, rest in instructions():
        if key == "FROM":
            match = re.fullmatch(r"(\S+) AS (\S+)", rest, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {rest}"
            out.append(Stage(match.group(2), match.group(1)))
        elif out:
            out[-1].body.append((key, rest))
    return out


def stage(name: str) -> Stage:
    (found,) = [s for s in stages() if s.name == name]
    return found


def shell_words(rest: str) -> str:
    """A CMD/RUN/HEALTHCHECK command as one string (exec form JSON arrays are joined)."""
    text = rest
    if text.startswith("CMD "):
        text = text[4:]
    if text.startswith("["):
        return " ".join(json.loads(text))
    return text


SHELL_KEYWORDS = {"then", "else", "do"}


def shell_commands(run: str) -> list[tuple[str | None, list[str]]]:
    """The simple commands of a RUN line as words, each with the ``if [ ... ]`` test it runs
    under (None: unconditionally)."""
    out: list[tuple[str | None, list[str]]] = []
    condition: str | None = None
    for piece in re.split(r"&&|;;|;|\|\|", run):
        words = shlex.split(piece)
        while words and words[0] in SHELL_KEYWORDS:
            words = words[1:]
        if not words:
            continue
        if words[0] == "if":
            condition = " ".join(words[1:])
        elif words[0] == "fi":
            condition = None
        else:
            out.append((condition, words))
    return out


def pip_commands(name: str, *, condition: str | None = None) -> list[list[str]]:
    """The ``pip`` commands of a stage's RUN instructions that run under ``condition``."""
    return [
        words
        for run in stage(name).args_of("RUN")
        for under, words in shell_commands(run)
        if words[0] == "pip" and under == condition
    ]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# --- the lock files -------------------------------------------------------------------------

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?:\s*;\s*(.+?))?\s*\\?$")


def locked(name: str) -> dict[str, tuple[Version, int]]:
    """A lock file's pins: canonical name -> (version, number of hashes). Pins whose marker does
    not hold on this platform (Linux, as in the image and CI) are left out."""
    out: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in (LOCKS / name).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            package, version, marker = match.groups()
            current = canonicalize_name(package)
            if marker and not Marker(marker).evaluate():
                current = None
                continue
            out[current] = (Version(version), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, hashes = out[current]
            out[current] = (version, hashes + 1)
    return out


def requirements_of(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject.toml's dependencies plus those of ``extras``."""
    texts = list(PROJECT["project"]["dependencies"])
    for extra in extras:
        texts += PROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def closure(roots: list[Requirement]) -> dict[str, Requirement]:
    """Every distribution that ``roots`` need on this platform, from the installed metadata."""
    seen: dict[str, Requirement] = {}
    todo = [(r, frozenset(r.extras)) for r in roots]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen[key] = requirement
        try:
            texts = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed: run make lock, then make venv")
        for text in texts:
            dependency = Requirement(text)
            marker = dependency.marker
            holds = marker is None or any(
                marker.evaluate({"extra": extra}) for extra in ({""} | set(extras))
            )
            if holds:
                todo.append((dependency, frozenset(dependency.extras)))
    return {canonicalize_name(r.name): r for r in seen.values()}


LOCK_EXTRAS = {
    "runtime.lock": (),
    "spark.lock": ("spark",),
    "dev.lock": tuple(PROJECT["project"]["optional-dependencies"]),
}


@pytest.mark.parametrize(("lock", "extras"), LOCK_EXTRAS.items())
def test_lock_pins_every_declared_dependency_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(lock)
    for requirement in requirements_of(extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} has no pin for {requirement}: run make lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside pyproject.toml's {requirement}: run make lock"
        )
        assert hashes >= 1, f"{lock}: {name} has no hash"


@pytest.mark.parametrize(("lock", "extras"), LOCK_EXTRAS.items())
def test_lock_covers_every_transitive_dependency(lock: str, extras: tuple[str, ...]) -> None:
    pins = locked(lock)
    for name, requirement in closure(requirements_of(extras)).items():
        assert name in pins, f"{lock} misses {name} (needed as {requirement}): run make lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (name, lock)
        assert pins[name][1] >= 1, f"{lock}: {name} has no hash"


def test_the_runtime_lock_has_no_demo_or_development_library() -> None:
    runtime = locked("runtime.lock")
    extras = PROJECT["project"]["optional-dependencies"]
    for extra in ("demo", "dev", "spark"):
        for text in extras[extra]:
            name = canonicalize_name(Requirement(text).name)
            assert name not in runtime, f"{name} ({extra} extra) is in the image's lock"


@pytest.mark.parametrize("lock", ["spark.lock", "dev.lock"])
def test_every_lock_pins_the_versions_the_image_ships(lock: str) -> None:
    runtime, other = locked("runtime.lock"), locked(lock)
    for name, (version, _) in runtime.items():
        assert other[name][0] == version, f"{lock}: {name}=={other[name][0]}, the image: {version}"


def test_the_build_lock_pins_the_build_backend() -> None:
    pins = locked("build.lock")
    for text in PROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"build.lock has no pin for {requirement}"
        assert requirement.specifier.contains(pins[name][0])


def test_make_lock_writes_every_lock_file_and_make_venv_installs_the_dev_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("\nlock:") :].split("\n\n")[0]
    for lock in (*LOCK_EXTRAS, "build.lock"):
        assert f"-o $(LOCKS)/{lock}" in target, lock
        assert (
            (LOCKS / lock)
            .read_text(encoding="utf-8")
            .startswith(
                "# This file was autogenerated by uv via the following command:\n#    make lock\n"
            )
        ), lock
    venv = makefile[makefile.index("\n$(STAMP):") :].split("\n\n")[0]
    assert "install --require-hashes -r $(LOCKS)/dev.lock" in venv
    assert "install --no-deps -e ." in venv
    assert "pip check" in venv


# --- the image --------------------------------------------------------------------------------

SPARK = "[ $VARIANT = spark ]"  # as shlex reads the test


def test_two_stages_from_one_slim_python_the_package_supports() -> None:
    assert [s.name for s in stages()] == ["builder", "runtime"], "the default target is runtime"
    (base,) = {s.base for s in stages()}
    match = re.fullmatch(r"python:(3\.\d+)-slim", base)
    assert match, base
    minimum = re.fullmatch(r">=\s*(3\.\d+)", PROJECT["project"]["requires-python"])
    assert minimum
    assert _version(match.group(1)) >= _version(minimum.group(1))


def test_dependencies_install_only_from_the_lock_files_with_hashes() -> None:
    installs = [
        words
        for run in stage("builder").args_of("RUN")
        for _, words in shell_commands(run)
        if words[0] == "pip" and "install" in words
    ]
    assert installs
    for words in installs:
        if "--no-deps" in words:
            assert fnmatch.fnmatch(words[-1], "/wheels/cleanroom-*.whl"), words
            continue
        assert "--require-hashes" in words, words
        lock = words[words.index("-r") + 1]
        assert (ROOT / lock).is_file(), lock
        assert lock.removeprefix("requirements/") in (*LOCK_EXTRAS, "build.lock"), lock
    for words in (w for run in stage("runtime").args_of("RUN") for _, w in shell_commands(run)):
        assert words[0] != "pip", "the runtime stage installs no Python package"


def test_the_environment_gets_the_runtime_lock_then_the_package_without_dependencies() -> None:
    commands = [" ".join(words) for words in pip_commands("builder")]
    target = f"--python {VENV}/bin/python"
    runtime = commands.index(f"pip {target} install --require-hashes -r requirements/runtime.lock")
    wheel = next(i for i, c in enumerate(commands) if c.startswith("pip wheel "))
    package = commands.index(f"pip {target} install --no-deps /wheels/cleanroom-*.whl")
    assert runtime < wheel < package
    assert commands[package + 1] == f"pip {target} check"
    build = commands[wheel].split()
    # The package itself (no extras, no -e), with the locked backend and nothing fetched.
    assert build[-1] == "."
    assert {"--no-deps", "--no-build-isolation"} <= set(build)
    assert commands.index("pip install --require-hashes -r requirements/build.lock") < wheel


def test_the_spark_variant_adds_the_spark_lock_and_a_java_runtime() -> None:
    assert global_args() == {"VARIANT": "default"}
    for s in stages():
        assert "VARIANT" in s.args_of("ARG"), f"stage {s.name} does not see VARIANT"
    (check,) = [run for run in stage("builder").args_of("RUN") if run.startswith("case ")]
    assert 'case "$VARIANT" in default|spark) ;;' in check, "an unknown VARIANT fails the build"
    spark = [" ".join(w) for w in pip_commands("builder", condition=SPARK)]
    assert spark == [f"pip --python {VENV}/bin/python install --require-hashes -r "
                     "requirements/spark.lock"]  # fmt: skip
    assert PROJECT["project"]["optional-dependencies"]["spark"] == ["pyspark~=4.3"]
    java = [
        words
        for run in stage("runtime").args_of("RUN")
        for under, words in shell_commands(run)
        if words[:2] == ["apt-get", "install"]
    ]
    assert java, "the Spark variant installs a Java runtime"
    for run in stage("runtime").args_of("RUN"):
        for under, words in shell_commands(run):
            if words[0] == "apt-get":
                assert under == SPARK, "the default image installs no Debian package"
    (install,) = java
    assert "--no-install-recommends" in install
    assert any(re.fullmatch(r"(default|openjdk-\d+)-jre-headless", w) for w in install)


def test_the_runtime_stage_copies_only_the_built_environment_and_the_configs() -> None:
    copies = stage("runtime").args_of("COPY")
    assert f"--from=builder {VENV} {VENV}" in copies
    for rest in copies:
        words = rest.split()
        if words[0].startswith("--from="):
            assert words[1:] == [VENV, VENV], rest
        else:
            assert set(words[:-1]) <= {"configs", "queries"}, "no sources in the runtime image"
    for run in stage("runtime").args_of("RUN"):
        assert not re.search(r"\b(gcc|g\+\+|build-essential|make)\b", run), run
    env = " ".join(stage("runtime").args_of("ENV"))
    assert f"PATH={VENV}/bin:$PATH" in env


def test_the_package_copied_into_the_builder_is_the_one_pyproject_names() -> None:
    copies = stage("builder").args_of("COPY")
    copied = {source.rstrip("/") for rest in copies for source in rest.split()[:-1]}
    assert {"pyproject.toml", PROJECT["project"]["name"], "requirements"} <= copied
    assert PROJECT["project"].get("readme", "README.md") in copied


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for s in stages():
        for rest in s.args_of("COPY"):
            if rest.startswith("--from="):
                continue
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def runtime(keyword: str) -> list[str]:
    return stage("runtime").args_of(keyword)


def test_exposes_the_configured_default_port() -> None:
    port = tomllib.loads((ROOT / "configs" / "default.toml").read_text())["port"]
    assert runtime("EXPOSE") == [str(port)]
    (check,) = runtime("HEALTHCHECK")
    assert f"'{port}'" in check or f":{port}/" in check


def test_runs_as_a_non_root_user() -> None:
    order = [key for key, _ in stage("runtime").body]
    users = runtime("USER")
    assert users, "no USER instruction: the server would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert order.index("USER") < order.index("CMD")
    assert max(i for i, key in enumerate(order) if key == "RUN") < order.index("USER")


def test_healthcheck_probes_healthz_with_python() -> None:
    (check,) = runtime("HEALTHCHECK")
    command = shell_words(check[check.index("CMD ") :])
    assert "/healthz" in command
    assert command.startswith("python ")
    assert "curl" not in command
    assert "wget" not in command


def test_data_directory_is_a_volume() -> None:
    assert runtime("VOLUME") == ["/data"]
    env = " ".join(runtime("ENV"))
    assert re.search(r"\bCLEANROOM_DATA_DIR=/data\b", env)


def test_serves_on_all_interfaces_and_never_migrates_on_start() -> None:
    (cmd,) = runtime("CMD")
    command = shell_words(cmd)
    assert command.startswith("cleanroom serve ")
    assert "init-db" not in command, "replicas starting together would race to migrate"
    assert "--host 0.0.0.0" in command
    config = re.search(r"--config (\S+)", command)
    assert config, "the installed package has no configs/: name the gunicorn config"
    assert config.group(1).startswith("/app/configs/")
    assert (ROOT / "configs" / Path(config.group(1)).name).is_file()
    # The one-off migration job is documented where the image is.
    header = DOCKERFILE.read_text(encoding="utf-8").split("\nFROM ")[0]
    assert "cleanroom cleanroom init-db" in header
    assert "cleanroom cleanroom init-db" in (ROOT / "docs" / "operations.md").read_text()


@pytest.mark.parametrize("setting", ["CLEANROOM_CONFIG", "CLEANROOM_MODE"])
def test_settings_point_at_the_copied_configuration(setting: str) -> None:
    env = " ".join(runtime("ENV"))
    match = re.search(rf"\b{setting}=(\S+)", env)
    assert match, setting
    if setting == "CLEANROOM_CONFIG":
        assert (ROOT / "configs" / Path(match.group(1)).name).is_file()
    else:
        assert match.group(1) == "production"


def test_the_server_imports_none_of_the_demo_libraries() -> None:
    """Every module but the demo's imports with the demo extra's libraries missing (as in the
    image), and ``cleanroom demo`` then says which extra to install."""
    demo = [Requirement(t).name for t in PROJECT["project"]["optional-dependencies"]["demo"]]
    probe = f"""
import importlib, pkgutil, sys
for name in {demo!r}:
    sys.modules[name] = None  # import fails, as when it is not installed
import cleanroom
for module in pkgutil.walk_packages(cleanroom.__path__, "cleanroom."):
    # (wsgi builds the app at import; alembic runs env.py itself)
    skip = ("cleanroom.demo", "cleanroom.cli.demo", "cleanroom.web.wsgi")
    if not module.name.startswith((*skip, "cleanroom.store.migrations")):
        importlib.import_module(module.name)
from click.testing import CliRunner
from cleanroom.cli.main import cli
result = CliRunner().invoke(cli, ["demo", "--help"])
print(result.exit_code, result.output.strip().splitlines()[-1])
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    status, _, message = done.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "2"
    assert "pip install 'cleanroom[demo]'" in message
    assert all(name in message for name in demo)
