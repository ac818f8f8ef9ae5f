"""The whole path with real processes: Daphne (PostgreSQL, Redis), a Celery worker, `python -m gateway`
managing the real otelcol-contrib, and an OTLP/HTTP sink started by the test.

Without PostgreSQL and REDIS_URL the test skips locally and fails when CI=true (tests/live.py).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
import yaml
from django.conf import settings
from django.test.utils import override_settings

from deployments_app.models import DeploymentTarget, TargetStatus
from deployments_app.services import create_deployment
from flowgate_site.celery import app as celery_app
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token, request_restart
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.gateway.conftest import broken_config, filelog_config, telemetry_base
from tests.live import ROOT, CeleryWorker, Daphne, Output, free_port, redis_url, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live_server_process,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]

WAIT = 40  # seconds for anything the gateway does


class Sink:
    """A tiny OTLP/HTTP receiver: POST /v1/logs with JSON bodies; keeps the log record bodies."""

    def __init__(self):
        self.lines = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/logs":
                    sink.lines += log_bodies(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def log_bodies(payload):
    return [
        record["body"]["stringValue"]
        for resource in payload.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]


def wait_until(condition, what, seconds=WAIT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")  # see the gateway output below


@pytest.fixture(scope="module")
def redis_prefix():
    """Redis keys of this module only (channel layer, cache, broker queue), for this process and its servers."""
    url = redis_url()
    prefix = f"flowgate-gw-{uuid.uuid4().hex[:12]}"
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url], "prefix": f"{prefix}:asgi"}}
    cache = {**settings.CACHES["default"], "KEY_PREFIX": prefix}
    with override_settings(REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS={"default": layer}, CACHES={"default": cache}):
        keys = ("broker_url", "task_always_eager", "task_default_queue", "broker_transport_options")
        old = {key: celery_app.conf[key] for key in keys}
        celery_app.conf.update(
            broker_url=url,
            task_always_eager=False,
            task_default_queue=f"{prefix}-tasks",
            broker_transport_options={"global_keyprefix": f"{prefix}:celery:"},
        )
        yield prefix
        celery_app.conf.update(old)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def system(redis_prefix, org, alice, tmp_path, collector_binary):
    """Daphne, a Celery worker, the sink and a log file; stopped after the test."""
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1)
    worker = CeleryWorker(f"{redis_prefix}-tasks", FLOWGATE_ROLLOUT_TICK_SECONDS=0.5)
    sink = Sink()
    log = tmp_path / "app.log"
    log.write_text("")
    yield {"daphne": daphne, "worker": worker, "sink": sink, "log": log}
    sink.close()
    worker.stop()
    daphne.stop()


class GatewayProcess:
    """`python -m gateway` as an operator starts it."""

    def __init__(self, *args):
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gateway", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = Output(self.process.stdout)

    def terminate(self, timeout=20):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def write_lines(path, *lines):
    with open(path, "a") as handle:
        handle.writelines(f"{line}\n" for line in lines)


def deploy(org, alice, template, number, config, gateway, **params):
    version = TemplateVersion.objects.create(template=template, number=number, config_yaml=config)
    create_deployment(org, template_version=version, selector_gateways=[gateway], user=alice, **params)
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

    good = deploy(org, alice, template, 1, filelog_config(log, sink.url), row)
    row = wait_until(lambda: Gateway.objects.filter(name="e2e-gw", remote_config_status="applied").first(), "APPLIED")
    assert row.remote_config_hash == good.sha256
    assert "filelog" in row.effective_config and "prometheus" in row.effective_config  # remote + base
    write_lines(log, "first line", "second line")
    wait_until(lambda: {"first line", "second line"} <= set(sink.lines), "lines at the sink")

    # The rollout engine frees the gateway for the next deployment once its target is applied.
    wait_until(lambda: DeploymentTarget.objects.filter(gateway=row, status=TargetStatus.APPLIED).exists(), "target")
    _, pid, _ = collector_state("e2e-gw")
    bad = deploy(org, alice, template, 2, broken_config(log, sink.url), row, auto_rollback=False)
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
    assert new_pid != pid and "SIGKILL" in row.health["last_error"]
    write_lines(log, "after the crash")
    wait_until(lambda: "after the crash" in sink.lines, "lines after the restart")

    # The portal's restart: the OpAMP Restart command reaches the supervisor, which restarts the collector.
    request_restart(row, alice)
    wait_until(lambda: collector_state("e2e-gw")[1] not in (0, new_pid), "a commanded restart")
    assert collector_state("e2e-gw")[2] == 1  # a commanded restart is not a crash
