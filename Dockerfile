# qbsync's image: `qbsync run` (the default command) or `qbsync worker`; compose.yaml runs
# both against PostgreSQL ("Run qbsync for many companies" in README.md).
#
# Settings come from the environment at run time (docker run --env-file .env, or compose's
# env_file): no secret is in the image, and .dockerignore keeps .env, .venv and .git out of
# the build context. https://docs.docker.com/reference/dockerfile/#dockerignore-file
#
# Base image pinned by tag: Python 3.11.15 on Debian 12 (bookworm), slim variant; the tag is
# one docker-library/python builds (versions.json: "3.11": 3.11.15, variant slim-bookworm).
FROM python:3.11.15-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    QBSYNC_DB_PATH=/data/qbsync.db

WORKDIR /app

# What `pip install .` needs (pyproject.toml: the readme and the packages bot, handlers,
# rules, sandbox with their package data), and nothing else: no tests, no test extras.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY rules ./rules
COPY sandbox ./sandbox
RUN pip install . \
    && useradd --system --create-home --uid 10001 --user-group qbsync \
    && mkdir -p /data && chown qbsync:qbsync /data

# Not root. /data holds the SQLite file of a single-company `qbsync run` without
# QBSYNC_DATABASE_URL (mount a volume there); with PostgreSQL nothing is written locally.
USER qbsync

# QBSYNC_HTTP_PORT (Slack's requests in HTTP mode) and QBSYNC_OPS_PORT (/healthz, /metrics).
EXPOSE 3000 9464

ENTRYPOINT ["qbsync"]
CMD ["run"]

# GET /healthz of this container's process (`run` or `worker`) with Python's urllib: the slim
# image has no curl. Exit 0 healthy, 1 unhealthy.
# https://docs.docker.com/reference/dockerfile/#healthcheck
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
