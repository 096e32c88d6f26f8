# Everything runs inside .venv, created with the machine's python3 and kept up to date with
# pyproject.toml and the lock files (the stamp file makes re-runs a no-op).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# The lock files (requirements/*.lock, pinned with hashes) and the tool that writes them, kept in
# a venv of its own so that `make lock` works even when .venv no longer matches pyproject.toml.
LOCKS := requirements
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.9
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --no-cache --custom-compile-command "make lock"

.PHONY: venv lock demo test test-long lint typecheck contracts pytest bench clean

venv: $(STAMP)

# Exactly the locked versions (dev.lock: every extra), then the package itself without
# dependencies; pip check fails when the lock no longer satisfies pyproject.toml (run make lock).
$(STAMP): pyproject.toml $(LOCKS)/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install --require-hashes -r $(LOCKS)/dev.lock
	$(PIP) install --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolve every lock file from pyproject.toml (newest versions its ranges allow). The image
# installs runtime.lock (spark.lock for the Spark variant) and build.lock; make venv dev.lock.
# spark and dev are constrained to runtime's pins, so tests run the versions the image ships.
lock:
	test -x $(LOCK_VENV)/bin/uv || ($(PYTHON) -m venv $(LOCK_VENV) \
		&& $(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION))
	mkdir -p $(LOCKS)
	$(LOCK_VENV)/bin/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
		| $(UV_COMPILE) - -o $(LOCKS)/build.lock
	$(UV_COMPILE) pyproject.toml -o $(LOCKS)/runtime.lock
	$(UV_COMPILE) pyproject.toml --extra spark -c $(LOCKS)/runtime.lock -o $(LOCKS)/spark.lock
	$(UV_COMPILE) pyproject.toml --all-extras -c $(LOCKS)/runtime.lock -o $(LOCKS)/dev.lock

demo: venv
	$(BIN)/cleanroom demo

lint: venv
	$(BIN)/ruff check cleanroom tests benchmarks
	$(BIN)/ruff format --check cleanroom tests benchmarks

typecheck: venv
	$(BIN)/mypy

contracts: venv
	$(BIN)/lint-imports

pytest: venv
	CLEANROOM_TEST_DATABASE_URL=$${CLEANROOM_TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -q -m "not system_long"

test: lint typecheck contracts pytest

# The Spark end-to-end runs (marker system_long), then the long fuzzing and statistical profiles
# (markers fuzz_long, long_audit), with a bounded
# budget: CLEANROOM_FUZZ_EXAMPLES examples per fuzz test (CI runs this after `make test`).
test-long: venv
	CLEANROOM_TEST_DATABASE_URL=$${CLEANROOM_TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -q \
		-p no:cacheprovider -m system_long tests
	CLEANROOM_FUZZ_EXAMPLES=$${CLEANROOM_FUZZ_EXAMPLES:-30} $(BIN)/pytest -q -p no:cacheprovider \
		-m "fuzz_long or long_audit" tests/policy tests/dp

bench: venv
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(LOCK_VENV) .mypy_cache .ruff_cache .pytest_cache demo-output
