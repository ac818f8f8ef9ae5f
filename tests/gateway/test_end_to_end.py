"""The whole path with real processes: Daphne (PostgreSQL, Redis), a Celery worker, `python -m gateway`
managing the real otelcol-contrib, and an OTLP/HTTP sink started by the test.

Without PostgreSQL and REDIS_URL the test skips locally and fails when CI=true (tests/live.py).
"""

import os
import signal

import pytest
import yaml

from deployments_app.models import DeploymentTarget, TargetStatus
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.gateway.conftest import broken_config, filelog_config, telemetry_base
from tests.gateway.live import GatewayProcess, wait_until
from tests.live import free_port, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]


def write_lines(path, *lines):
    with open(path, "a") as handle:
        handle.writelines(f"{line}\n" for line in lines)


def deploy(api, template, number, config, gateway, **params):
    version = TemplateVersion.objects.create(template=template, number=number, config_yaml=config)
    api.deploy(version, gateway, **params)
    return version


def collector_state(name):
    row = Gateway.objects.get(name=name)
    attributes = row.health.get("attributes", {})
    return row, attributes.get("collector.pid", 0), attributes.get("collector.restarts", 0)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_gateway_enrolls_applies_configs_safely_and_survives_a_collector_crash(
    system, org, alice, tmp_path, collector_binary
):
    _, token = create_registration_token(org, name="e2e", created_by=alice)
    base = tmp_path / "base.yaml"
    metrics_port = free_port()
    base.write_text(telemetry_base(metrics_port))
    gateway = GatewayProcess(
        "--portal-url", system["daphne"].url, "--registration-token", token, "--state-dir", str(tmp_path / "state"),
        "--collector", collector_binary, "--base-config", str(base), "--name", "e2e-gw", "--apply-timeout", "20",
        "--metrics-url", f"http://127.0.0.1:{metrics_port}/metrics",
    )  # fmt: skip
    try:
        run_scenario(system, org, alice, gateway)
        # SIGTERM: AgentDisconnect (offline at once), collector stopped, clean exit.
        pid = collector_state("e2e-gw")[1]
        assert gateway.terminate() == 0, gateway.output.text()
        assert Gateway.objects.get(name="e2e-gw").status == GatewayStatus.OFFLINE
        assert not pid_alive(pid)
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
        print("gateway output:", stop_process(gateway.process, gateway.output)[-8000:])


def run_scenario(system, org, alice, gateway):
    sink, log = system["sink"], system["log"]
    row = wait_until(lambda: Gateway.objects.filter(name="e2e-gw", status=GatewayStatus.ONLINE).first(), "enrollment")
    assert row.agent_version and row.capabilities and row.available_components["components"]["receivers"]
    template = ConfigTemplate.objects.create(organization=org, name="logs")

    good = deploy(system["api"], template, 1, filelog_config(log, sink.url), row)
    row = wait_until(lambda: Gateway.objects.filter(name="e2e-gw", remote_config_status="applied").first(), "APPLIED")
    assert row.remote_config_hash == good.sha256
    assert "filelog" in row.effective_config and "prometheus" in row.effective_config  # remote + base
    write_lines(log, "first line", "second line")
    wait_until(lambda: {"first line", "second line"} <= set(sink.lines), "lines at the sink")

    # The rollout engine frees the gateway for the next deployment once its target is applied.
    wait_until(lambda: DeploymentTarget.objects.filter(gateway=row, status=TargetStatus.APPLIED).exists(), "target")
    _, pid, _ = collector_state("e2e-gw")
    # The portal refuses a version whose components the gateway lacks (issue 13); an owner forces it
    # here to prove the gateway refuses it safely too.
    bad = deploy(system["api"], template, 2, broken_config(log, sink.url), row, auto_rollback=False, force=True)
    row = wait_until(lambda: Gateway.objects.filter(name="e2e-gw", remote_config_status="failed").first(), "FAILED")
    assert row.remote_config_hash == bad.sha256
    assert 'unknown type: "otlp"' in row.remote_config_error  # the collector's own words
    # Still the same collector process, still running the good config.
    assert collector_state("e2e-gw")[1] == pid
    assert list(yaml.safe_load(row.effective_config)["receivers"]) == ["filelog"]
    write_lines(log, "after the broken config")
    wait_until(lambda: "after the broken config" in sink.lines, "lines while the bad config is refused")

    os.kill(pid, signal.SIGKILL)
    row, new_pid, restarts = wait_until(
        lambda: (state := collector_state("e2e-gw"))[2] == 1 and state[0].health["healthy"] and state, "a restart"
    )
    assert new_pid != pid and not row.health["last_error"]  # healthy again: no current error...
    crash = wait_until(
        lambda: [e for e in Gateway.objects.get(name="e2e-gw").health_errors if "SIGKILL" in e["message"]], "the crash"
    )[0]
    assert crash["at"] and crash["resolved_at"] >= crash["at"] and crash["healthy_since"]  # ...the crash, dated
    write_lines(log, "after the crash")
    wait_until(lambda: "after the crash" in sink.lines, "lines after the restart")

    # The portal's restart: the OpAMP Restart command reaches the supervisor, which restarts the collector.
    status, answer = system["api"].post(f"/api/v1/gateways/{row.pk}/restart/")
    assert status == 202, answer
    wait_until(lambda: collector_state("e2e-gw")[1] not in (0, new_pid), "a commanded restart")
    assert collector_state("e2e-gw")[2] == 1  # a commanded restart is not a crash
