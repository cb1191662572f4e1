# Compliance gateway image: `gateway serve` with config/docker.toml (SMTP on 0.0.0.0:2525, HTTP on
# 0.0.0.0:8025, SQLite and the token secret on the volume /app/var, every secret from an environment
# variable, STARTTLS with a certificate mounted at /app/tls). docs/docker.md: build, run, variables,
# volumes, compose (docker-compose.yml: the gateway on PostgreSQL), upgrading.
#
#   docker build -t compliance-gateway .
#   docker run -d -p 2525:2525 -p 8025:8025 -v gateway-var:/app/var -v "$PWD/tls:/app/tls:ro" \
#     -e GATEWAY_SMTP_PASSWORD=... -e GATEWAY_API_KEY=... -e GATEWAY_OPS_KEY=... compliance-gateway
#
# Your own config: mount it and point GATEWAY_CONFIG at it (-v "$PWD/gateway.toml:/app/config/gateway.toml:ro"
# -e GATEWAY_CONFIG=/app/config/gateway.toml).
#
# BASE is any Debian-like image with Python 3.11 and its venv module (python3 on PATH): python:3.11-slim,
# or the local one scripts/docker-base makes where Docker Hub cannot be reached (tests/test_docker.py).
# The gateway is installed into a virtual environment where a C compiler is (the renderer's scans,
# gateway/content/_scan.c, and DATA's dots, gateway/smtp/_dots.c; the build fails if they were not built);
# the image that runs it has no compiler, only that virtual environment copied over.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# hadolint ignore=DL3008
RUN command -v gcc >/dev/null \
    || { apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*; }
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
RUN python3 -m venv /opt/gateway \
    && /opt/gateway/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/gateway/bin/python -I -c "import sys; from gateway.content import scan; from gateway.smtp import dots; \
sys.exit(None if scan.COMPILED and dots.COMPILED else '_scan.c or _dots.c was not built')"

FROM ${BASE}
# Same BASE, same Python path: the virtual environment works as copied.
COPY --from=build /opt/gateway /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GATEWAY_CONFIG=/app/config/docker.toml \
    GATEWAY_HEALTHCHECK_URL=http://127.0.0.1:8025/healthz
WORKDIR /app
COPY config/docker.toml ./config/docker.toml
# A fixed uid, so that a bind-mounted /app/var or a certificate can be given to it (chown 10001).
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin gateway \
    && mkdir -p /app/var /app/tls \
    && chown gateway:gateway /app/var
USER 10001:10001
# The SQLite database, the decision journals, the Maildir outbox and the unsubscribe-token secret:
# keep this volume across containers (a new secret would void the links already sent).
VOLUME ["/app/var"]
EXPOSE 2525 8025
# 200 while the store answers; 503 (unhealthy) when it does not. Set GATEWAY_HEALTHCHECK_URL if your config
# moves http.listen off port 8025.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request as u; sys.exit(u.urlopen(os.environ['GATEWAY_HEALTHCHECK_URL'], timeout=4).status != 200)"]
ENTRYPOINT ["gateway"]
CMD ["serve"]
