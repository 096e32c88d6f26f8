# Everything runs inside .venv, created with the machine's python3 and kept up to date with
# pyproject.toml (the stamp file makes re-runs a no-op).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: venv demo test test-long lint typecheck contracts pytest bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(STAMP)

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
	CLEANROOM_TEST_DATABASE_URL=$${CLEANROOM_TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -q

test: lint typecheck contracts pytest

# The long fuzzing and statistical profiles (markers fuzz_long, long_audit), with a bounded
# budget: CLEANROOM_FUZZ_EXAMPLES examples per fuzz test (CI runs this after `make test`).
test-long: venv
	CLEANROOM_FUZZ_EXAMPLES=$${CLEANROOM_FUZZ_EXAMPLES:-30} $(BIN)/pytest -q -p no:cacheprovider \
		-m "fuzz_long or long_audit" tests/policy tests/dp

bench: venv
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache demo-output
