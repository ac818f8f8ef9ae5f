"""The collector's own metrics, pushed where the portal's OpAMP `own_metrics` offer says (issue 14, point 1).

The supervisor announces ReportsOwnMetrics. The portal then offers `ConnectionSettingsOffers.own_metrics`:
its OTLP/HTTP metrics endpoint, the gateway's telemetry credential (`Authorization`) and the reporting
interval (the `FlowGate-Metrics-Interval-Seconds` header, opamp_core.offers.METRICS_INTERVAL_HEADER:
the message has no field for it; it is read here and not sent on). Like the OpenTelemetry supervisor,
this one writes a reader into every collector config it runs:

    service:
      telemetry:
        metrics:
          readers:
            - periodic:                      # added after the config's own readers, which are kept
                interval: 30000              # milliseconds
                exporter:
                  otlp:
                    protocol: http/protobuf
                    endpoint: https://portal.example.com/v1/metrics
                    compression: gzip
                    headers:
                      - name: Authorization
                        value: Bearer fgt_…

The offer is kept in `<state_dir>/own_metrics.json` (0600, written atomically: it holds the credential)
before it is used, so every later start runs with it. Stdlib, PyYAML-free dicts and opamp_core only.
"""

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.state import write_private
from opamp_core.offers import METRICS_INTERVAL_HEADER

FILE = "own_metrics.json"
DEFAULT_INTERVAL_SECONDS = 30
MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS = 1, 24 * 3600


@dataclass(frozen=True)
class OwnMetrics:
    """Where the collector pushes its own metrics: OTLP/HTTP endpoint, headers to send, interval."""

    endpoint: str
    headers: tuple = ()  # ((name, value), ...), as sent
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS

    def reader(self) -> dict:
        """The periodic reader for `service.telemetry.metrics.readers`."""
        otlp = {"protocol": "http/protobuf", "endpoint": self.endpoint, "compression": "gzip"}
        if self.headers:
            otlp["headers"] = [{"name": name, "value": value} for name, value in self.headers]
        return {"periodic": {"interval": self.interval_seconds * 1000, "exporter": {"otlp": otlp}}}

    def to_json(self) -> dict:
        headers = [list(pair) for pair in self.headers]
        return {"endpoint": self.endpoint, "headers": headers, "interval_seconds": self.interval_seconds}


def from_offer(settings) -> OwnMetrics:
    """The OwnMetrics of an offered TelemetryConnectionSettings; ValueError (the reason) when it cannot be used."""
    endpoint = settings.destination_endpoint.strip()
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the offered own_metrics endpoint {endpoint!r} is not an http(s) URL")
    headers, interval = [], DEFAULT_INTERVAL_SECONDS
    for header in settings.headers.headers:
        if header.key.lower() == METRICS_INTERVAL_HEADER.lower():
            try:
                interval = int(header.value)
            except ValueError:
                raise ValueError(f"the offered metrics interval {header.value!r} is not a number") from None
            if not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
                raise ValueError(f"the offered metrics interval {interval} s is out of range")
            continue
        headers.append((header.key, header.value))
    return OwnMetrics(endpoint=endpoint, headers=tuple(headers), interval_seconds=interval)


def with_reader(config: dict, own: OwnMetrics | None) -> dict:
    """`config` with `own`'s reader after its own readers (a new dict; `config` unchanged when `own` is None)."""
    if own is None:
        return config
    service = dict(config.get("service") or {})
    telemetry = dict(service.get("telemetry") or {})
    metrics = dict(telemetry.get("metrics") or {})
    reader = own.reader()
    readers = [item for item in metrics.get("readers") or [] if item != reader]
    metrics["readers"] = [*readers, reader]
    telemetry["metrics"] = metrics
    service["telemetry"] = telemetry
    return {**config, "service": service}


def without_reader(config: dict, own: OwnMetrics | None) -> dict:
    """`config` without `own`'s reader (the one this supervisor added before); unchanged when it has none."""
    if own is None:
        return config
    metrics = ((config.get("service") or {}).get("telemetry") or {}).get("metrics") or {}
    readers = metrics.get("readers")
    if not isinstance(readers, list) or own.reader() not in readers:
        return config
    kept = [item for item in readers if item != own.reader()]
    service = dict(config["service"])
    telemetry = dict(service["telemetry"])
    rest = {key: value for key, value in metrics.items() if key != "readers"}
    if kept or rest:
        telemetry["metrics"] = {**rest, "readers": kept} if kept else rest
    else:
        del telemetry["metrics"]
    service["telemetry"] = telemetry
    return {**config, "service": service}


def load(state_dir) -> OwnMetrics | None:
    """The offer saved in the state directory, or None."""
    try:
        data = json.loads((state_dir / FILE).read_text())
    except FileNotFoundError:
        return None
    return OwnMetrics(
        endpoint=data["endpoint"],
        headers=tuple(tuple(pair) for pair in data.get("headers", [])),
        interval_seconds=int(data.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)),
    )


def save(state_dir, own: OwnMetrics | None) -> None:
    """Keep `own` (or forget it: None) in the state directory, atomically, mode 0600."""
    if own is None:
        (state_dir / FILE).unlink(missing_ok=True)
        return
    write_private(state_dir / FILE, json.dumps(own.to_json(), indent=2) + "\n")
