# FlowGate gateway image: the supervisor (python -m gateway) and the official collector binary.
# The collector version matches the component catalogue the portal validates configs against
# (shared reference: otelcol-contrib v0.130.0).
ARG OTELCOL_VERSION=0.130.0
FROM otel/opentelemetry-collector-contrib:${OTELCOL_VERSION} AS otelcol

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLOWGATE_COLLECTOR=/usr/local/bin/otelcol-contrib \
    FLOWGATE_STATE_DIR=/var/lib/flowgate-gateway \
    FLOWGATE_BASE_CONFIG=/etc/flowgate/base.yaml

COPY --from=otelcol /otelcol-contrib /usr/local/bin/otelcol-contrib

WORKDIR /app
COPY requirements.txt /app/requirements.txt
# Only what the supervisor imports, at the versions pinned for the portal.
RUN pip install --no-cache-dir $(grep -E '^(websockets|PyYAML|protobuf)==' /app/requirements.txt)

# The supervisor and the OpAMP package it shares with the portal (protobuf, framing, protocol core), each whole
# and nothing else of the repository: neither imports Django or an app (tests/gateway/test_no_django.py).
COPY gateway /app/gateway
COPY opamp_core /app/opamp_core
COPY docker/gateway-base.yaml /etc/flowgate/base.yaml

RUN useradd --system --home /var/lib/flowgate-gateway flowgate \
    && mkdir -p /var/lib/flowgate-gateway \
    && chown flowgate /var/lib/flowgate-gateway
USER flowgate
VOLUME /var/lib/flowgate-gateway
# OTLP gRPC and HTTP (pipelines you deploy), the collector's own metrics, the local OpAMP endpoint.
EXPOSE 4317 4318 8888 4321

ENTRYPOINT ["python", "-m", "gateway"]
