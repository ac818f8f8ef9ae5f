"""OTLP/HTTP metrics in: the body decoded with opentelemetry-proto, the collector's own metrics picked out.

No Django here. What a collector reports about itself (checked against the test build of otelcol-contrib,
0.135, pushing OTLP: tests/telemetry_app/data/README.md) and what it becomes:

    otelcol_receiver_{accepted,refused,failed}_{log_records,metric_points,spans,profiles}  attr `receiver`
    otelcol_processor_{incoming,outgoing}_items, signal in attr `otel.signal`              attr `processor`
    otelcol_processor_{accepted,refused,dropped,inserted}_<signal> (older collectors)      attr `processor`
    otelcol_exporter_{sent,send_failed,enqueue_failed}_<signal>                            attr `exporter`
    otelcol_exporter_queue_{size,capacity} (gauges), signal in attr `data_type`            attr `exporter`
    otelcol_exporter_queue_batch_send_size_bytes (histogram: its sum is bytes sent)        attr `exporter`

A Prometheus-style `_total` suffix and an `otelcol.` prefix are accepted too. Every other metric is
ignored (accepted, not stored).
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

SIGNALS = {"log_records": "logs", "metric_points": "metrics", "spans": "traces", "profiles": "profiles"}
SIGNAL_NAMES = {"logs", "metrics", "traces", "profiles"}
_SUFFIX = "|".join(SIGNALS)
PATTERNS = [
    (re.compile(rf"^receiver_(accepted|refused|failed)_({_SUFFIX})$"), "receiver"),
    (re.compile(rf"^processor_(accepted|refused|dropped|inserted)_({_SUFFIX})$"), "processor"),
    (re.compile(rf"^exporter_(sent|send_failed|enqueue_failed)_({_SUFFIX})$"), "exporter"),
]
ATTRIBUTE_SIGNAL_METRICS = {
    "processor_incoming_items": ("processor", "incoming"),
    "processor_outgoing_items": ("processor", "outgoing"),
    "exporter_queue_size": ("exporter", "queue_size"),
    "exporter_queue_capacity": ("exporter", "queue_capacity"),
}
HISTOGRAM_SUM_METRICS = {"exporter_queue_batch_send_size_bytes": ("exporter", "sent_bytes")}
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
MAX_COMPONENT = 200


class MalformedMetrics(Exception):
    """The body is not an ExportMetricsServiceRequest."""


@dataclass(slots=True)
class Point:
    """One data point of a collector metric we keep, placed on a component, a signal and a measure.

    Not frozen: a frozen dataclass sets each field through object.__setattr__, and about 170 requests a second
    of 60 points each make that cost show (docs/telemetry.md "Ingest cost"). Nothing changes a Point.
    """

    series: str  # the metric and all its attributes: deltas are computed per series
    component_kind: str
    component: str
    signal: str
    measure: str
    start_ns: int
    time_ns: int
    value: int
    gauge: bool  # last/max instead of a delta
    cumulative: bool  # a running total (a delta is computed) rather than a delta already


def decode(body: bytes) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as error:
        raise MalformedMetrics(f"not an OTLP ExportMetricsServiceRequest: {error}") from None
    return request


def base_name(name: str) -> str:
    for prefix in ("otelcol_", "otelcol."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    else:
        return ""
    return name.removesuffix("_total").replace(".", "_")


@lru_cache(maxsize=4096)  # a collector sends the same few dozen names in every report; bounded for any other
def classify(name: str):
    """(component kind, measure, signal or None when an attribute says it, how the value is read) or None."""
    name = base_name(name)
    if not name:
        return None
    for pattern, kind in PATTERNS:
        match = pattern.match(name)
        if match:
            return kind, match.group(1), SIGNALS[match.group(2)], "number"
    if name in ATTRIBUTE_SIGNAL_METRICS:
        kind, measure = ATTRIBUTE_SIGNAL_METRICS[name]
        return kind, measure, None, "number"
    if name in HISTOGRAM_SUM_METRICS:
        kind, measure = HISTOGRAM_SUM_METRICS[name]
        return kind, measure, None, "histogram"
    return None


def attributes(point) -> dict:
    values = {}
    for item in point.attributes:
        value = item.value
        field = value.WhichOneof("value")
        values[item.key] = str(getattr(value, field)) if field in ("string_value", "int_value", "bool_value") else ""
    return values


def points(request: ExportMetricsServiceRequest):
    """The Points of the metrics we keep, in the order sent. Anything else is skipped."""
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                known = classify(metric.name)
                if known is not None:
                    yield from _metric_points(metric, *known)


def _metric_points(metric, kind, measure, signal, reading):
    data_field = metric.WhichOneof("data")
    if reading == "histogram":
        if data_field != "histogram":
            return
        data, gauge = metric.histogram, False
    elif data_field == "sum":
        data, gauge = metric.sum, not metric.sum.is_monotonic
    elif data_field == "gauge":
        data, gauge = metric.gauge, True
    else:
        return
    cumulative = not gauge and getattr(data, "aggregation_temporality", 0) != DELTA
    for point in data.data_points:
        attrs = attributes(point)
        component = attrs.get(kind, "")[:MAX_COMPONENT]
        point_signal = signal or attrs.get("otel.signal") or attrs.get("data_type") or ""
        if not component or (point_signal and point_signal not in SIGNAL_NAMES):
            continue
        if reading == "histogram":
            value = point.sum if point.HasField("sum") else 0.0
        else:
            value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
        series = metric.name + "|" + ",".join(f"{key}={attrs[key]}" for key in sorted(attrs))
        yield Point(
            series=series,
            component_kind=kind,
            component=component,
            signal=point_signal,
            measure=measure,
            start_ns=point.start_time_unix_nano,
            time_ns=point.time_unix_nano,
            value=max(0, round(value)),
            gauge=gauge,
            cumulative=cumulative,
        )


def response(rejected: int = 0, message: str = "") -> bytes:
    """The OTLP ExportMetricsServiceResponse; partial_success when some points were rejected."""
    reply = ExportMetricsServiceResponse()
    if rejected:
        reply.partial_success.rejected_data_points = rejected
        reply.partial_success.error_message = message
    return reply.SerializeToString()
