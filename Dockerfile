# Compliance gateway with the embedded defaults (SQLite, Maildir outbox, SMS outbox).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .
COPY config ./config
RUN useradd --create-home gateway && mkdir -p /app/var && chown gateway /app/var
USER gateway
VOLUME ["/app/var"]
ENV GATEWAY_CONFIG=/app/config/gateway.toml
ENTRYPOINT ["gateway"]
CMD ["check", "--sender", "demo", "config/samples/newsletter.eml"]
