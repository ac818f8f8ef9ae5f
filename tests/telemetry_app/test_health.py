"""Health from metrics: each rule, its hysteresis, the stale check, and what it costs per request.

A simulated collector pushes cumulative counters every 30 s, as the real one does; each minute is judged once a
report of a later minute arrives (telemetry_app/health.py).
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateways_app.models import Gateway, GatewayStatus
from opamp_core import offers
from telemetry_app import health_status, otlp, rollups, tasks
from telemetry_app.models import SeriesState
from tests.telemetry_app.conftest import counter, gauge, request_of

pytestmark = pytest.mark.django_db

S = 10**9
START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def at(minute, second=0):
    return START + timedelta(minutes=minute, seconds=second)


class Collector:
    """Cumulative counters of a filelog -> otlphttp pipeline, reported like otelcol 0.135 does."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.totals = defaultdict(int)

    def report(self, when, **amounts):
        rollups.ingest(self.gateway, otlp.points(self.request(when, **amounts)), minute_retention_hours=48, now=when)
        self.gateway.refresh_from_db()
        return self.gateway

    def request(self, when, *, accepted=0, refused=0, sent=0, failed=0, queue=None, capacity=1000):
        for name, amount in (("accepted", accepted), ("refused", refused), ("sent", sent), ("failed", failed)):
            self.totals[name] += amount
        time_ns, start_ns = int(when.timestamp()) * S, int(START.timestamp()) * S - 60 * S
        metrics = [
            counter("otelcol_receiver_accepted_log_records", self.totals["accepted"], start_ns=start_ns,
                    time_ns=time_ns, receiver="filelog"),
            counter("otelcol_receiver_refused_log_records", self.totals["refused"], start_ns=start_ns,
                    time_ns=time_ns, receiver="filelog"),
            counter("otelcol_exporter_sent_log_records", self.totals["sent"], start_ns=start_ns, time_ns=time_ns,
                    exporter="otlphttp"),
            counter("otelcol_exporter_send_failed_log_records", self.totals["failed"], start_ns=start_ns,
                    time_ns=time_ns, exporter="otlphttp"),
        ]  # fmt: skip
        if queue is not None:
            metrics.append(gauge("otelcol_exporter_queue_size", queue, time_ns=time_ns, exporter="otlphttp",
                                 data_type="logs"))  # fmt: skip
            metrics.append(gauge("otelcol_exporter_queue_capacity", capacity, time_ns=time_ns, exporter="otlphttp",
                                 data_type="logs"))  # fmt: skip
        return request_of(*metrics)

    def minutes(self, first, last, **per_report):
        """Two reports (at :10 and :40) in each minute from first to last, each with these amounts."""
        for minute in range(first, last + 1):
            for second in (10, 40):
                self.report(at(minute, second), **per_report)
        return self.gateway


@pytest.fixture
def online(gateway):
    capabilities = offers.REPORTS_OWN_METRICS | offers.REPORTS_HEARTBEAT
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE, capabilities=capabilities)
    gateway.refresh_from_db()
    return Collector(gateway)


HEALTHY = {"accepted": 50, "sent": 50}
FAILING = {"accepted": 50, "failed": 50}


def open_entries(gateway):
    return [entry for entry in gateway.metrics_errors if entry["resolved_at"] is None]


def test_an_exporter_failing_every_batch_degrades_the_gateway_after_two_minutes(online):
    online.minutes(0, 2, **HEALTHY)
    online.minutes(3, 4, **FAILING)
    gateway = online.report(at(5, 10), **FAILING)  # 12:04 is complete: 12:03 and 12:04 failed
    assert gateway.status == GatewayStatus.ONLINE  # what OpAMP says stays as it was
    assert gateway.shown_status == GatewayStatus.DEGRADED
    assert gateway.metrics_degraded_since == at(3)
    assert gateway.metrics_problem == "exporter otlphttp failing: 200 of 200 log records failed since 12:03 UTC"
    [entry] = open_entries(gateway)
    assert entry["source"] == "metrics" and entry["component"] == "exporter/otlphttp"
    assert entry["at"] == at(3).isoformat()
    assert [reason["source"] for reason in gateway.degraded_reasons()] == ["metrics"]


def test_one_failing_minute_is_not_enough(online):
    online.minutes(0, 0, **HEALTHY)
    online.minutes(1, 1, **FAILING)
    gateway = online.minutes(2, 3, **HEALTHY)
    online.minutes(4, 4, **FAILING)
    gateway = online.minutes(5, 6, **HEALTHY)
    assert gateway.shown_status == GatewayStatus.ONLINE
    assert gateway.metrics_problem == "" and gateway.metrics_errors == []


def test_healthy_again_after_two_clean_minutes_with_the_problem_dated_and_resolved(online):
    online.minutes(0, 1, **FAILING)
    gateway = online.report(at(2, 10), **HEALTHY)
    assert gateway.shown_status == GatewayStatus.DEGRADED
    online.report(at(2, 40), **HEALTHY)
    gateway = online.report(at(3, 10), **HEALTHY)  # one clean minute (12:02) judged: still degraded
    assert gateway.shown_status == GatewayStatus.DEGRADED
    gateway = online.report(at(3, 40), **HEALTHY)
    gateway = online.report(at(4, 10), **HEALTHY)  # 12:03 clean too
    assert gateway.shown_status == GatewayStatus.ONLINE
    assert gateway.metrics_problem == "" and gateway.metrics_degraded_since is None
    [entry] = gateway.metrics_errors
    assert entry["resolved_at"] == at(4).isoformat() and entry["healthy_since"] == at(4).isoformat()
    # The message keeps what was lost while it lasted (the clean minutes' items count in "of").
    assert entry["message"] == "exporter otlphttp failing: 200 of 400 log records failed since 12:00 UTC"


def test_a_clean_minute_between_failures_does_not_clear_a_degraded_gateway(online):
    online.minutes(0, 1, **FAILING)
    online.minutes(2, 2, **HEALTHY)
    online.minutes(3, 3, **FAILING)
    gateway = online.report(at(4, 10), **FAILING)
    assert gateway.shown_status == GatewayStatus.DEGRADED
    assert gateway.metrics_degraded_since == at(0)  # since the first failure, not since the flap
    assert len(gateway.metrics_errors) == 1


def test_refused_data_degrades_with_the_receiver_as_the_reason(online):
    online.minutes(0, 1, accepted=40, refused=10, sent=40)
    gateway = online.report(at(2, 10), **HEALTHY)
    assert gateway.shown_status == GatewayStatus.DEGRADED
    assert gateway.metrics_problem == "receiver filelog refusing data: 40 of 200 log records refused since 12:00 UTC"


def test_a_queue_growing_three_minutes_in_a_row_degrades(online):
    for minute, size in enumerate([0, 100, 200, 300]):
        online.minutes(minute, minute, **HEALTHY, queue=size)
    gateway = online.report(at(4, 10), **HEALTHY, queue=300)  # grew in 12:01, 12:02 and 12:03
    assert gateway.shown_status == GatewayStatus.DEGRADED
    assert gateway.metrics_problem == (
        "exporter otlphttp logs sending queue growing: 0 to 300 of 1,000 since 12:01 UTC"
    )


def test_a_queue_growing_by_a_few_items_is_noise(online):
    for minute, size in enumerate([0, 1, 2, 3, 3]):
        online.minutes(minute, minute, **HEALTHY, queue=size)
    assert online.gateway.shown_status == GatewayStatus.ONLINE


def test_a_full_queue_degrades(online):
    online.minutes(0, 1, **HEALTHY, queue=1000)
    gateway = online.report(at(2, 10), **HEALTHY, queue=1000)
    assert gateway.metrics_problem == "exporter otlphttp logs sending queue full (1,000 of 1,000) since 12:00 UTC"


def test_offline_wins_over_a_metrics_problem_and_degraded_over_online(online):
    online.minutes(0, 1, **FAILING)
    gateway = online.report(at(2, 10), **FAILING)
    assert Gateway.objects.with_shown_status("degraded").get() == gateway
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.OFFLINE)
    gateway.refresh_from_db()
    assert gateway.shown_status == GatewayStatus.OFFLINE and gateway.degraded_reasons() == []
    assert list(Gateway.objects.with_shown_status("degraded")) == []
    assert Gateway.objects.with_shown_status("offline").get() == gateway


def test_both_sources_are_named_in_the_reasons(online):
    online.minutes(0, 1, **FAILING)
    online.report(at(2, 10), **FAILING)
    crash = {"source": "health", "component": "collector", "message": "collector exited", "at": at(1).isoformat(),
             "resolved_at": None, "healthy_since": None}  # fmt: skip
    Gateway.objects.filter(pk=online.gateway.pk).update(status=GatewayStatus.DEGRADED, health_errors=[crash])
    online.gateway.refresh_from_db()
    reasons = online.gateway.degraded_reasons()
    assert [(r["source"], r["since"]) for r in reasons] == [("metrics", at(0)), ("OpAMP health", at(1))]


def test_a_gateway_that_stops_reporting_turns_degraded_and_the_next_report_clears_it(online, settings):
    settings.FLOWGATE_TELEMETRY_STALE_SECONDS = 300
    gateway = online.minutes(0, 1, **HEALTHY)
    SeriesState.objects.filter(gateway=gateway).update(updated_at=at(1, 40))
    assert health_status.check_stale(now=at(6, 30)) == 0  # 4 min 50 s: not yet
    assert health_status.check_stale(now=at(6, 41)) == 1
    assert health_status.check_stale(now=at(7)) == 0  # marked once
    gateway.refresh_from_db()
    assert gateway.shown_status == GatewayStatus.DEGRADED
    assert gateway.metrics_problem == "no metrics received since 12:01 UTC"
    gateway = online.report(at(8, 10), **HEALTHY)
    assert gateway.shown_status == GatewayStatus.ONLINE
    [entry] = gateway.metrics_errors
    assert entry["component"] == "telemetry" and entry["resolved_at"] == at(8, 10).isoformat()


def test_the_stale_check_runs_on_the_beat_schedule(online):
    entry = django_settings.CELERY_BEAT_SCHEDULE["telemetry-stale-check"]
    assert entry["task"] == tasks.check_stale_metrics.name == "telemetry_app.tasks.check_stale_metrics"
    online.minutes(0, 0, **HEALTHY)  # reported at 12:00:40, long before the test runs
    assert tasks.check_stale_metrics() == 1
    online.gateway.refresh_from_db()
    assert online.gateway.metrics_problem == "no metrics received since 12:00 UTC"


def test_the_stale_check_leaves_other_gateways_alone(online, org, settings):
    other = Gateway.objects.create(organization=org, name="never-reported", status=GatewayStatus.ONLINE)
    online.minutes(0, 0, **HEALTHY)
    SeriesState.objects.filter(gateway=online.gateway).update(updated_at=at(0, 40))
    assert health_status.check_stale(now=at(0, 50)) == 0
    other.refresh_from_db()
    assert other.metrics_problem == "" and other.shown_status == GatewayStatus.ONLINE


def gateway_queries(collector, when, **amounts):
    """The statements of one report's ingest (without the test's own refresh) that read or write gateways."""
    with CaptureQueriesContext(connection) as queries:
        rollups.ingest(collector.gateway, otlp.points(collector.request(when, **amounts)), minute_retention_hours=48,
                       now=when)  # fmt: skip
    return [query["sql"].split(" ", 1)[0] for query in queries if '"gateways_app_gateway"' in query["sql"]]


def test_a_report_costs_no_query_for_health_unless_a_problem_changes(online):
    online.minutes(0, 1, **HEALTHY)
    assert gateway_queries(online, at(2, 10), **HEALTHY) == []  # judged from the state row it already locks
    online.report(at(2, 40), **FAILING)
    online.minutes(3, 3, **FAILING)
    assert gateway_queries(online, at(4, 10), **FAILING) == ["SELECT", "UPDATE"]  # the problem opens
    online.report(at(4, 40), **FAILING)
    assert gateway_queries(online, at(5, 10), **FAILING) == ["SELECT", "UPDATE"]  # its figures move, once a minute
    assert gateway_queries(online, at(5, 40), **FAILING) == []


@pytest.mark.parametrize("change", ["metrics turned off", "offline"])
def test_the_stale_check_expects_reports_only_from_connected_gateways_that_announce_own_metrics(online, change):
    gateway = online.minutes(0, 0, **HEALTHY)
    SeriesState.objects.filter(gateway=gateway).update(updated_at=at(0, 40))
    if change == "offline":
        Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.OFFLINE)
    else:  # the agent reconnected without ReportsOwnMetrics: no own_metrics offer, no reports expected
        Gateway.objects.filter(pk=gateway.pk).update(capabilities=offers.REPORTS_HEARTBEAT)
    assert health_status.check_stale(now=at(30)) == 0
    gateway.refresh_from_db()
    assert gateway.metrics_problem == "" and gateway.metrics_errors == []
