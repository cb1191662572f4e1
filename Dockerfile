# Compliance gateway with the embedded defaults (SQLite, Maildir outbox, SMS outbox): SMTP on 2525, HTTP on 8025. Mount a config of your own at
# /app/config/gateway.toml (listening on 0.0.0.0 needs real credentials and a TLS certificate, or
# allow_plaintext_auth behind a TLS-terminating proxy) and a volume at /app/var.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .
COPY config ./config
RUN useradd --create-home gateway && mkdir -p /app/var && chown gateway /app/var
USER gateway
VOLUME ["/app/var"]
EXPOSE 2525 8025
ENV GATEWAY_CONFIG=/app/config/gateway.toml
ENTRYPOINT ["gateway"]
CMD ["serve"]
