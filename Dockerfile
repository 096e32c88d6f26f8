# cleanroom server image: gunicorn serving the HTTP API, metadata and datasets under /data.
#
#   docker build -t cleanroom .
#   docker run -p 8000:8000 -v cleanroom-data:/data \
#     -e CLEANROOM_SECRET_KEY=... -e CLEANROOM_JWT_SECRET=... cleanroom
#
# Production mode: the server refuses to start without an explicit secret key and JWT key.
# Set CLEANROOM_DATABASE_URL=postgresql+psycopg://... to keep the metadata in PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 cleanroom \
    && useradd --system --uid 10001 --gid cleanroom --home-dir /app --shell /usr/sbin/nologin cleanroom

WORKDIR /app
# The package exactly as the README installs it (pip install ., no dev extras); the configs
# stay next to it because settings and gunicorn read them from files.
COPY pyproject.toml README.md ./
COPY cleanroom ./cleanroom
COPY configs ./configs
COPY queries ./queries
RUN pip install . \
    && mkdir -p /data \
    && chown cleanroom:cleanroom /data

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

# Migrations first (idempotent), then gunicorn in place of the shell so it receives SIGTERM.
CMD ["sh", "-c", "cleanroom init-db && exec cleanroom serve --host 0.0.0.0 --config /app/configs/gunicorn.conf.py"]
