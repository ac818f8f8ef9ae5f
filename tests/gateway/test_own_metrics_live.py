"""Own metrics the OpAMP way, with real processes (issue 14, point 1): Daphne (PostgreSQL, Redis), the real
supervisor `python -m gateway` and the real otelcol-contrib.

The supervisor announces ReportsOwnMetrics; the portal offers its /v1/metrics with the gateway's telemetry
credential and the organization's interval (5 s here); the supervisor writes the periodic OTLP reader into the
config the collector runs. Then a file of N lines read by filelog → batch → otlphttp (to a local sink) shows up in
the portal's rollups for that gateway within two report intervals: N accepted by the receiver, N sent by the
exporter.

Without PostgreSQL and REDIS_URL the test skips locally and fails when CI=true (tests/live.py).
"""

import time

import pytest
import yaml

from core_app.models import OrgSettings
from gateway.configs import merge, render
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token
from opamp_core.proto import opamp_pb2
from tests.gateway.conftest import filelog_config, telemetry_base
from tests.gateway.live import GatewayProcess, Sink, wait_until
from tests.live import Daphne, free_port, stop_process
from tests.telemetry_app.conftest import totals

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]

LINES = 41
INTERVAL = 5  # seconds: the organization's telemetry_interval_seconds


@pytest.fixture
def portal(redis_prefix):
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1)
    sink = Sink()
    yield daphne, sink
    sink.close()
    daphne.stop()


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_the_gateways_own_metrics_reach_the_portal_within_two_intervals(
    portal, org, alice, tmp_path, collector_binary, transport
):
    daphne, sink = portal
    OrgSettings.objects.update_or_create(organization=org, defaults={"telemetry_interval_seconds": INTERVAL})
    _, registration = create_registration_token(org, name="own-metrics", created_by=alice)
    log = tmp_path / "app.log"
    log.write_text("")
    base = tmp_path / "base.yaml"
    # A base config that runs at once: filelog → batch → otlphttp, and a pull reader of the operator's (kept).
    config = merge(yaml.safe_load(filelog_config(log, sink.url)), yaml.safe_load(telemetry_base(free_port())))
    base.write_text(render(config))
    state_dir = tmp_path / "state"
    gateway = GatewayProcess(
        "--portal-url", daphne.url, "--registration-token", registration, "--state-dir", str(state_dir),
        "--collector", collector_binary, "--base-config", str(base), "--name", "own-metrics-gw",
        "--transport", transport,
    )  # fmt: skip
    try:
        online = Gateway.objects.filter(name="own-metrics-gw", status=GatewayStatus.ONLINE)
        row = wait_until(lambda: online.exclude(capabilities=0).first(), "the gateway online")
        assert row.capabilities & opamp_pb2.AgentCapabilities_ReportsOwnMetrics
        # The collector runs the reader the offer describes (reported as its effective config) ...
        metrics_url = f"{daphne.url}/v1/metrics"
        running = wait_until(
            lambda: Gateway.objects.filter(pk=row.pk, effective_config__contains=metrics_url).first(),
            "the collector running with the own-metrics reader",
        )
        readers = yaml.safe_load(running.effective_config)["service"]["telemetry"]["metrics"]["readers"]
        assert readers[0]["pull"]["exporter"]["prometheus"]  # the operator's reader is kept
        otlp = readers[-1]["periodic"]["exporter"]["otlp"]
        assert (readers[-1]["periodic"]["interval"], otlp["endpoint"]) == (INTERVAL * 1000, metrics_url)
        assert otlp["headers"][0]["value"].startswith("Bearer fgt_")
        # ... and reports the offer applied.
        wait_until(lambda: Gateway.objects.get(pk=row.pk).connection_settings_status == "applied", "APPLIED")

        with open(log, "a") as handle:
            handle.writelines(f"line {number}\n" for number in range(LINES))
        written = time.monotonic()
        accepted, sent = ("receiver", "filelog", "logs", "accepted"), ("exporter", "otlphttp", "logs", "sent")
        found = wait_until(
            lambda: (found := totals(row)).get(sent) == LINES and found,
            "N records accepted and sent in the portal's rollups",
            seconds=2 * INTERVAL + 10,
        )
        took = time.monotonic() - written
        print(f"{transport}: {LINES} lines written to rollups in the portal in {took:.1f} s (interval {INTERVAL} s)")
        assert took <= 2 * INTERVAL, f"took {took:.1f} s, more than two report intervals"
        assert found[accepted] == LINES
        assert found.get(("exporter", "otlphttp", "logs", "send_failed"), 0) == 0
        assert len(sink.lines) == LINES
        assert gateway.terminate() == 0, gateway.output.text()
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
        print("gateway output:", stop_process(gateway.process, gateway.output)[-6000:])
