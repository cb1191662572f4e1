# Compliance gateway with the embedded defaults (SQLite, Maildir outbox, SMS outbox): SMTP on 2525, HTTP on 8025. Mount a config of your own at
# /app/config/gateway.toml (listening on 0.0.0.0 needs real credentials and a TLS certificate, or
# allow_plaintext_auth behind a TLS-terminating proxy) and a volume at /app/var.
# The wheel is built where a C compiler is (the renderer's scans, gateway/content/_scan.c, and DATA's dots,
# gateway/smtp/_dots.c); the image that runs it has none.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && for ext in _scan _dots; do python -m zipfile -l /wheels/*.whl | grep -q "$ext\.cpython" \
         || { echo "$ext.c was not built" >&2; exit 1; }; done

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config ./config
RUN useradd --create-home gateway && mkdir -p /app/var && chown gateway /app/var
USER gateway
VOLUME ["/app/var"]
EXPOSE 2525 8025
ENV GATEWAY_CONFIG=/app/config/gateway.toml
ENTRYPOINT ["gateway"]
CMD ["serve"]
