"""Fixtures and helpers of the telemetry tests: credentials, OTLP requests built or captured, posting them."""

import time
import zlib
from pathlib import Path

import pytest
from django.db import connection
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from telemetry_app import credentials
from telemetry_app.models import Rollup

DATA = Path(__file__).resolve().parent / "data"
PROTOBUF = "application/x-protobuf"
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA


@pytest.fixture(autouse=True)
def no_persistent_thread_connections(monkeypatch):
    """The view's worker threads close their database connections after each call (as tests/opamp_app does):
    otherwise they outlive the test (CONN_MAX_AGE) and the test database cannot be dropped."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def credential(gateway):
    return credentials.telemetry_credential_for(gateway)


def post(client, authorization, body, *, content_type=PROTOBUF, **headers):
    """POST /v1/metrics like a collector's OTLP/HTTP exporter; headers as Content_Encoding=…"""
    if not isinstance(body, bytes):
        body = body.SerializeToString()
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    if authorization:
        headers["Authorization"] = authorization
    return client.post("/v1/metrics", body, content_type=content_type, headers=headers)


def now_ns():
    return time.time_ns()


def attribute(key, value):
    item = KeyValue(key=key)
    item.value.string_value = value
    return item


def counter(name, value, *, start_ns, time_ns, temporality=CUMULATIVE, monotonic=True, **attributes):
    metric = metrics_pb2.Metric(name=name)
    metric.sum.aggregation_temporality = temporality
    metric.sum.is_monotonic = monotonic
    point = metric.sum.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=time_ns, as_int=value)
    point.attributes.extend(attribute(key.replace("__", "."), text) for key, text in attributes.items())
    return metric


def gauge(name, value, *, time_ns, **attributes):
    metric = metrics_pb2.Metric(name=name)
    point = metric.gauge.data_points.add(time_unix_nano=time_ns, as_int=value)
    point.attributes.extend(attribute(key.replace("__", "."), text) for key, text in attributes.items())
    return metric


def request_of(*metrics, resource=()):
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(attribute(key, value) for key, value in resource)
    resource_metrics.scope_metrics.add().metrics.extend(metrics)
    return request


def accepted_logs(value, *, start_ns, time_ns, receiver="filelog"):
    return request_of(
        counter(
            "otelcol_receiver_accepted_log_records",
            value,
            start_ns=start_ns,
            time_ns=time_ns,
            receiver=receiver,
            transport="",
        )
    )


def captured(name, *, shift_to_ns=None, base_ns=None):
    """A request the real collector sent (data/), its times moved by (shift_to_ns - base_ns) when given."""
    request = ExportMetricsServiceRequest.FromString((DATA / name).read_bytes())
    if shift_to_ns is None:
        return request
    offset = shift_to_ns - base_ns
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = getattr(metric, metric.WhichOneof("data"))
                for point in data.data_points:
                    point.time_unix_nano += offset
                    if point.start_time_unix_nano:
                        point.start_time_unix_nano += offset
    return request


def totals(gateway, **filters):
    """{(component kind, component, signal, measure): summed value} of the gateway's rows."""
    found = {}
    for row in Rollup.objects.filter(gateway=gateway, **filters):
        key = (row.component_kind, row.component, row.signal, row.measure)
        found[key] = found.get(key, 0) + row.value
    return found


def gzip_bomb(size):
    """`size` zero bytes gzipped (about 1/1000 of that on the wire), made without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + compressor.flush()
