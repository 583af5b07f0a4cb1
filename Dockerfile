# syntax=docker/dockerfile:1
# LeadBot's `leadbot serve` in a container. With PostgreSQL: `docker compose up -d` (compose.yaml).
# Alone, on SQLite in the volume: docker build -t leadbot . && docker run --init -p 127.0.0.1:8000:8000 \
#   -p 127.0.0.1:2525:2525 -v leadbot-data:/var/lib/leadbot --env-file leadbot.env leadbot
# docs/operations.md#containers says more; tests/deploy/test_container.py checks this file.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY ingest/ ingest/
COPY scoring/ scoring/
COPY storage/ storage/
# What running needs, not the dev tools; not editable: /src is not in the final image.
RUN python -m venv /opt/leadbot \
 && /opt/leadbot/bin/pip install --upgrade pip \
 && /opt/leadbot/bin/pip install .

FROM python:3.11-slim-bookworm
# A user of its own: never root, and the same uid/gid on every build (volume ownership).
RUN groupadd --system --gid 10001 leadbot \
 && useradd --system --uid 10001 --gid leadbot --home-dir /var/lib/leadbot --create-home \
      --shell /usr/sbin/nologin leadbot
COPY --from=build /opt/leadbot /opt/leadbot
ENV PATH=/opt/leadbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEADBOT_HOST=0.0.0.0 \
    LEADBOT_DATABASE_URL=sqlite:////var/lib/leadbot/leadbot.db
USER leadbot:leadbot
WORKDIR /var/lib/leadbot
VOLUME ["/var/lib/leadbot"]
# SMTP, LMTP (when LEADBOT_LMTP_PORT=2424), HTTP.
EXPOSE 2525 2424 8000
# Liveness: /healthz answers 200 while the database does (readiness, /readyz, is for a balancer).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LEADBOT_HTTP_PORT', '8000'), timeout=4)"]
# `serve` stops cleanly on SIGTERM; its worker processes want an init to reap them (--init).
STOPSIGNAL SIGTERM
ENTRYPOINT ["leadbot"]
CMD ["serve"]
