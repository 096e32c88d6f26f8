# cleanroom server image: gunicorn serving the HTTP API, metadata and datasets under /data.
#
#   docker build -t cleanroom .                                  # the DuckDB engine
#   docker build --build-arg VARIANT=spark -t cleanroom-spark .  # + Java, PySpark (operations.md)
#
#   # once per install and per upgrade, before the servers start (a one-off job, never per replica):
#   docker run --rm -v cleanroom-data:/data -e CLEANROOM_SECRET_KEY=... \
#     -e CLEANROOM_JWT_SECRET=... cleanroom cleanroom init-db
#   docker run -p 8000:8000 -v cleanroom-data:/data \
#     -e CLEANROOM_SECRET_KEY=... -e CLEANROOM_JWT_SECRET=... cleanroom
#
# Production mode: the server refuses to start without an explicit secret key and JWT key, and
# refuses a store whose schema is not at the newest migration (run init-db, above).
# Set CLEANROOM_DATABASE_URL=postgresql+psycopg://... to keep the metadata in PostgreSQL.
#
# Dependencies come from the lock files (requirements/*.lock, exact versions and hashes, written
# by `make lock`), never resolved at build time. The demo's extra (pandas, matplotlib) is not in
# the image; `cleanroom demo` runs from a checkout (make demo).

# default: the embedded DuckDB engine; spark: also a Java runtime and the spark extra (PySpark).
# A build argument, not a stage, so the legacy builder (which builds every stage) stays fast.
ARG VARIANT=default

# --- builder: the locked dependencies in /opt/cleanroom, the package built as a wheel ---------
FROM python:3.11-slim AS builder
ARG VARIANT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The dependency layers are reused until a lock file changes. The environment has no pip of its
# own (--without-pip): the builder's pip installs into it with --python.
COPY requirements ./requirements
RUN case "$VARIANT" in default|spark) ;; *) echo "VARIANT must be default or spark" >&2; exit 1;; esac \
    && python -m venv --without-pip /opt/cleanroom \
    && pip --python /opt/cleanroom/bin/python install --require-hashes -r requirements/runtime.lock \
    && if [ "$VARIANT" = spark ]; then \
        pip --python /opt/cleanroom/bin/python install --require-hashes -r requirements/spark.lock; \
    fi \
    && pip install --require-hashes -r requirements/build.lock

COPY pyproject.toml README.md ./
COPY cleanroom ./cleanroom
# The wheel with the locked build backend (no build isolation: nothing unpinned is fetched), then
# the package without dependencies; pip check fails the build if the lock misses a requirement.
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && pip --python /opt/cleanroom/bin/python install --no-deps /wheels/cleanroom-*.whl \
    && pip --python /opt/cleanroom/bin/python check

# --- runtime: no compilers, no build tools, no sources; the environment and the configs -------
FROM python:3.11-slim AS runtime
ARG VARIANT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/cleanroom/bin:$PATH

# The Spark variant's Java runtime (Debian's default JRE; procps: Spark's launch scripts call ps).
RUN groupadd --system --gid 10001 cleanroom \
    && useradd --system --uid 10001 --gid cleanroom --home-dir /app --shell /usr/sbin/nologin cleanroom \
    && mkdir -p /data \
    && chown cleanroom:cleanroom /data \
    && if [ "$VARIANT" = spark ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends default-jre-headless procps \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY --from=builder /opt/cleanroom /opt/cleanroom
WORKDIR /app
# The configs stay next to the package because settings and gunicorn read them from files.
COPY configs ./configs
COPY queries ./queries

ENV CLEANROOM_MODE=production \
    CLEANROOM_CONFIG=/app/configs/default.toml \
    CLEANROOM_DATA_DIR=/data \
    CLEANROOM_HOST=0.0.0.0

USER cleanroom
VOLUME /data
EXPOSE 8000

# python, not curl: the slim image has no curl. The port follows CLEANROOM_PORT if it is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('CLEANROOM_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

# gunicorn replaces the CLI process, so it receives SIGTERM. No migration here: replicas starting
# together would race; `cleanroom init-db` is the one-off job above.
CMD ["cleanroom", "serve", "--host", "0.0.0.0", "--config", "/app/configs/gunicorn.conf.py"]
