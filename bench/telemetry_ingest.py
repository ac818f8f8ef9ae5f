"""Ingest benchmark of POST /v1/metrics: N gateways pushing their collector's own metrics to one server process.

    # with the server's DATABASE_URL, REDIS_URL and REDIS_KEY_PREFIX in the environment:
    python bench/telemetry_ingest.py --gateways 5000 --seconds 150 --interval 30

The production shape: PostgreSQL, REDIS_URL set, DEBUG off (requests say `X-Forwarded-Proto: https`, as
from the TLS proxy), `python -m flowgate_site.serve` started by this script as a separate process (its own
process group, stopped at the end). Steps:

1. Setup: a fresh bench organization with N gateways, each with a telemetry credential (bulk inserts; the
   credentials made as telemetry_app.credentials issues them).
2. Load: every gateway posts one report every --interval seconds, at its own phase in the interval with
   ±10 % jitter, over --connections keep-alive HTTP/1.1 connections (plain asyncio streams). A report is
   the real collector's captured report (tests/telemetry_app/data/report_1.pb) widened to three pipelines
   (logs, metrics, traces; two exporters each): its cumulative counters grow with every report of the
   gateway, its times are the time of sending; gzipped, as the collector's otlphttp exporter sends.
3. Measure, over the load phase after the first --warmup seconds: the server's CPU (utime + stime of every
   process in its process group, from /proc) as % of one core, request time (send to full answer)
   percentiles, answers by status, rows written per minute (pg_stat_user_tables inserts + updates of the
   telemetry tables), the reports' data points.

Prints a summary and a Markdown row for docs/benchmarks.md. Loopback only.
"""

import argparse
import asyncio
import gzip
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from opamp_report import percentiles  # noqa: E402

ORG_SLUG = "bench-telemetry"
CAPTURED = ROOT / "tests" / "telemetry_app" / "data" / "report_1.pb"
TABLES = ("telemetry_app_rollup", "telemetry_app_throughput", "telemetry_app_seriesstate")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=5000, help="gateways (N), each with its own credential")
    parser.add_argument("--seconds", type=float, default=150.0, help="length of the load phase")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between a gateway's reports")
    parser.add_argument("--warmup", type=float, default=30.0, help="first seconds of the load not measured")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections of the load generator")
    parser.add_argument("--port", type=int, default=8711, help="port of the server this script starts")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the bench organization of the last run")
    args = parser.parse_args(argv)
    if not 1 <= args.gateways <= 50_000:
        parser.error("--gateways must be between 1 and 50000")
    if not 0 < args.seconds <= 900 or args.warmup >= args.seconds:
        parser.error("--seconds must be in (0, 900] and longer than --warmup")
    return args


def setup_django():
    """Django as the server runs it: DEBUG off, and the same SECRET_KEY (credentials are HMACs under a key from it)."""
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-telemetry-" + "k" * 60)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
    import django

    django.setup()


def create_gateways(count):
    """A fresh bench organization with `count` gateways and their telemetry credentials; the Authorization headers."""
    import secrets

    from django.db import transaction
    from django.utils import timezone

    from core_app.models import Organization
    from core_app.services import create_organization
    from gateways_app.models import Gateway
    from telemetry_app import credentials
    from telemetry_app.models import TelemetryCredential

    now = timezone.now()
    with transaction.atomic():
        Organization.objects.filter(slug=ORG_SLUG).delete()
        org = create_organization(ORG_SLUG, "Telemetry ingest benchmark")
        gateways = Gateway.objects.bulk_create(
            [Gateway(organization=org, name=f"tm-{index:05d}") for index in range(count)], batch_size=1000
        )
        rows = []
        for gateway in gateways:
            row = TelemetryCredential(
                organization=org,
                gateway=gateway,
                prefix=secrets.token_hex(6),
                seed=secrets.token_hex(16),
                created_at=now,
            )
            row.digest = credentials._digest(credentials.credential_text(row))
            rows.append(row)
        TelemetryCredential.objects.bulk_create(rows, batch_size=1000)
    return [f"Bearer {credentials.credential_text(row)}" for row in rows]


def rows_written(settle=False):
    """Inserts + updates of the telemetry tables so far (the statistics collector's counters, this database);
    `settle`: first let the server's backends publish theirs (PostgreSQL 15 does at least every second)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if settle:
            time.sleep(1.5)
            cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(TABLES)],
        )
        return int(cursor.fetchone()[0])


class Report:
    """The captured collector report widened to three pipelines; its counters advanced per gateway and report."""

    def __init__(self):
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        self.request = ExportMetricsServiceRequest.FromString(CAPTURED.read_bytes())
        self._widen()
        self.points = []  # (point, kind: "counter"|"gauge"|"histogram", base value)
        for resource_metrics in self.request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    field = metric.WhichOneof("data")
                    data = getattr(metric, field)
                    for point in data.data_points:
                        kind = "histogram" if field == "histogram" else "gauge" if field == "gauge" else "counter"
                        if field == "sum" and not metric.sum.is_monotonic:
                            kind = "gauge"
                        base = point.sum if kind == "histogram" else max(1, point.as_int or int(point.as_double) or 1)
                        if "failed" in metric.name or "refused" in metric.name:
                            base = 0  # a healthy fleet: nothing refused or failed (health from metrics stays quiet)
                        self.points.append((point, kind, base))

    def _widen(self):
        """Copy every per-pipeline metric (receiver, processor, exporter) for metrics and traces, and add a second
        exporter to each pipeline: 3 pipelines, about 60 points, as the issue's typical gateway."""
        pipeline = ("receiver_", "processor_incoming", "processor_outgoing", "processor_accepted", "exporter_")
        for resource_metrics in self.request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                extra = []
                for metric in scope_metrics.metrics:
                    if not any(part in metric.name for part in pipeline):
                        continue
                    copies = [metric]
                    for items, name in (("metric_points", "metrics"), ("spans", "traces")):
                        copies.append(self._copy(metric, metric.name.replace("log_records", items), {"logs": name}))
                    if "exporter_" in metric.name:
                        copies += [self._copy(copy, copy.name, {"otlphttp": "otlphttp/backup"}) for copy in copies]
                    extra += copies[1:]
                scope_metrics.metrics.extend(extra)

    @staticmethod
    def _copy(metric, name, values):
        copy = type(metric)()
        copy.CopyFrom(metric)
        copy.name = name
        for point in getattr(copy, copy.WhichOneof("data")).data_points:
            for attribute in point.attributes:
                text = attribute.value.string_value
                if attribute.key == "receiver":
                    attribute.value.string_value = "otlp"
                elif text in values:
                    attribute.value.string_value = values[text]
        return copy

    def count(self):
        return len(self.points)

    def body(self, start_ns, time_ns, sequence, scale):
        """The gzipped report number `sequence` (1, 2, …) of a gateway whose collector started at `start_ns`."""
        for point, kind, base in self.points:
            point.time_unix_nano = time_ns
            if kind == "counter":
                point.start_time_unix_nano = start_ns
                if point.WhichOneof("value") == "as_double":
                    point.as_double = float(base * scale * sequence)
                else:
                    point.as_int = int(base * scale * sequence)
            elif kind == "histogram":
                point.start_time_unix_nano = start_ns
                point.sum = float(base * scale * sequence)
            elif point.WhichOneof("value") == "as_double":
                point.as_double = float(base)
            else:
                point.as_int = int(base)
        return gzip.compress(self.request.SerializeToString(), compresslevel=5)


class Load:
    def __init__(self, args, headers, report):
        self.args, self.headers, self.report = args, headers, report
        self.queue = asyncio.Queue()
        self.latencies = []
        self.statuses = {}
        self.errors = {}
        self.sent = 0
        self.measuring = False
        self.lateness = []

    async def schedule(self, started):
        """Put (gateway, sequence) on the queue at each report's time: phase + k * interval, ±10 % jitter."""
        interval, rng = self.args.interval, random.Random(14)
        events = []
        start_ns = time.time_ns() - 3600 * 10**9
        for index in range(len(self.headers)):
            phase = rng.uniform(0, interval)
            moment, sequence = phase, 1
            while moment < self.args.seconds:
                events.append((moment, index, sequence))
                sequence += 1
                moment = phase + (sequence - 1) * interval + rng.uniform(-0.1, 0.1) * interval
        events.sort()
        self.start_ns = start_ns
        for moment, index, sequence in events:
            delay = started + moment - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.queue.put((index, sequence, started + moment))
        for _ in range(self.args.connections):
            await self.queue.put(None)

    async def connection(self):
        reader = writer = None
        while True:
            item = await self.queue.get()
            if item is None:
                break
            index, sequence, due = item
            scale = 1 + index % 7
            body = self.report.body(self.start_ns + index, time.time_ns(), sequence, scale)
            head = (
                f"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1:{self.args.port}\r\n"
                f"Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\nX-Forwarded-Proto: https\r\n"
                f"Authorization: {self.headers[index]}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.args.port)
                began = time.monotonic()
                writer.write(head + body)
                status, keep = await read_response(reader)
                took = time.monotonic() - began
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                self.count(self.errors, type(error).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if self.measuring:
                self.latencies.append(took)
                self.lateness.append(began - due)
                self.count(self.statuses, status)
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    @staticmethod
    def count(table, key):
        table[key] = table.get(key, 0) + 1


async def read_response(reader):
    """(status, keep-alive) of one HTTP/1.1 response with a Content-Length; its body read and dropped."""
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length, keep = 0, True
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            length = -1
    if length > 0:
        await reader.readexactly(length)
    while length < 0:  # chunked: sizes in hex, then a last empty chunk and its CRLF
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        length = -1 if size else 0
    return status, keep


def group_cpu_seconds(pgid):
    """utime + stime of every live process in the process group (the server and anything it started)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def start_server(port):
    env = dict(os.environ)  # DEBUG, SECRET_KEY and ALLOWED_HOSTS as setup_django() set them
    command = [sys.executable, "-m", "flowgate_site.serve", "-b", "127.0.0.1", "-p", str(port)]
    command.append("flowgate_site.asgi:application")
    log = open(ROOT / "var" / "bench" / "telemetry_ingest_server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: see {log.name}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not listen within 60 s")


async def run_load(args, headers, report, server):
    load = Load(args, headers, report)
    started = time.monotonic()
    workers = [asyncio.create_task(load.connection()) for _ in range(args.connections)]
    scheduler = asyncio.create_task(load.schedule(started))
    await asyncio.sleep(args.warmup)
    load.measuring = True
    rows_before = await asyncio.to_thread(rows_written)
    cpu_before, wall_before = group_cpu_seconds(server.pid), time.monotonic()
    client_before = time.process_time()
    await scheduler
    await asyncio.gather(*workers)
    wall = time.monotonic() - wall_before
    cpu = group_cpu_seconds(server.pid) - cpu_before
    client = time.process_time() - client_before
    rows = await asyncio.to_thread(rows_written, settle=True) - rows_before
    return load, {"wall": wall, "cpu": cpu, "rows": rows, "client_cpu": client}


def main(argv=None):
    args = parse_args(argv)
    setup_django()
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit("the production shape needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    headers_file = ROOT / "var" / "bench" / "telemetry_credentials.txt"
    if args.skip_setup and headers_file.exists():
        headers = headers_file.read_text().splitlines()[: args.gateways]
    else:
        began = time.monotonic()
        headers = create_gateways(args.gateways)
        headers_file.write_text("\n".join(headers) + "\n")
        headers_file.chmod(0o600)
        print(f"setup: {len(headers)} gateways with credentials in {time.monotonic() - began:.1f} s")
    report = Report()
    server = start_server(args.port)
    try:
        load, measured = asyncio.run(run_load(args, headers, report, server))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    print_summary(args, report, load, measured)


def print_summary(args, report, load, measured):
    latency = percentiles(load.latencies)
    late = percentiles([max(0.0, value) for value in load.lateness])
    requests = len(load.latencies)
    per_second = requests / measured["wall"]
    cpu_percent = 100 * measured["cpu"] / measured["wall"]
    per_request_ms = 1000 * measured["cpu"] / requests if requests else float("nan")
    rows_per_minute = measured["rows"] / measured["wall"] * 60
    ok = load.statuses.get(200, 0)
    print(f"gateways {args.gateways}, a report every {args.interval:g} s, {report.count()} points each")
    print(
        f"measured {measured['wall']:.0f} s after {args.warmup:g} s of warm-up: {requests} requests "
        f"({per_second:.0f}/s), answers {dict(sorted(load.statuses.items()))}, errors {load.errors or 'none'}"
    )
    print(f"server CPU: {cpu_percent:.1f} % of a core ({per_request_ms:.2f} ms per request)")
    print(
        f"request time: p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms "
        f"(sent late by the load generator: p99 {late['p99']} ms)"
    )
    print(f"rows written: {rows_per_minute:,.0f} per minute (inserts + updates of {', '.join(TABLES)})")
    print(f"load generator CPU: {100 * measured['client_cpu'] / measured['wall']:.1f} % of a core")
    host = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = (
        f"`python bench/telemetry_ingest.py --gateways {args.gateways} --seconds {args.seconds:g} "
        f"--interval {args.interval:g}`"
    )
    print(
        "\n| gateways | requests/s | points/request | server CPU (% of a core) | CPU per request | p50 | p99 "
        "| rows written/min | non-200 | host | command |"
    )
    print(
        f"| {args.gateways:,} | {per_second:.0f} | {report.count()} | {cpu_percent:.1f} % | {per_request_ms:.2f} ms "
        f"| {latency['p50']} ms | {latency['p99']} ms | {rows_per_minute:,.0f} | {requests - ok} | {host} | {command} |"
    )


if __name__ == "__main__":
    main()
