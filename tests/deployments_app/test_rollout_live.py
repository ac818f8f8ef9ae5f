"""The rollout engine end to end: Daphne, a Celery worker and beat (Redis broker), 20 OpAMP agents over WebSocket.

Deployments are created through the REST API on the live server; the worker runs the ticks;
agents apply (or fail) what they are pushed. PostgreSQL and REDIS_URL are required: without
them the tests skip locally and fail when CI=true (tests/live.py).
"""

import json
import time
import urllib.request
from datetime import timedelta

import pytest

from core_app.services import create_api_token
from deployments_app.models import Deployment, DeploymentStatus, EventKind
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import issue_opamp_token
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.deployments_app.agents import Fleet
from tests.live import CeleryWorker, Daphne, free_port, redis_key_prefix, redis_url, server_env, start, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(300),
]

AGENTS = 20
TICK_SECONDS = 0.3
WORKER_ENV = {"FLOWGATE_ROLLOUT_TICK_SECONDS": TICK_SECONDS}
CONFIG = """receivers:
  otlp:
    protocols:
      grpc: {{}}
exporters:
  debug: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
# {label}
"""
TIMINGS = {}  # scenario -> seconds, printed at the end of the module (pytest -s)


@pytest.fixture(scope="module")
def redis_prefix():
    """Redis keys of this module only (broker queue, channel layer): parallel runs never mix."""
    with redis_key_prefix("roll") as prefix:
        yield prefix
    print("\nlive rollout timings (s):", json.dumps(TIMINGS))


@pytest.fixture(scope="module")
def daphne(django_db_setup, redis_prefix):
    server = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1)
    yield server
    server.stop()


class Beat:
    """celery beat, a process of its own (as in production): reconcile_deployments every second."""

    def __init__(self, schedule_file):
        env = server_env(CELERY_BROKER_URL=redis_url(), CELERY_TASK_ALWAYS_EAGER="false", FLOWGATE_RECONCILE_SECONDS=1)
        command = ["celery", "-A", "flowgate_site", "beat", "-s", str(schedule_file), "--loglevel", "INFO"]
        self.process, self.output = start(command, env)
        self.output.wait_for("beat: Starting", self.process)

    def stop(self):
        return stop_process(self.process, self.output)


@pytest.fixture
def celery(redis_prefix, tmp_path):
    """The worker (replaceable: tests kill it) and beat, both stopped after the test."""
    processes = {"worker": CeleryWorker(f"{redis_prefix}-tasks", **WORKER_ENV), "beat": Beat(tmp_path / "schedule")}
    yield processes
    for process in processes.values():
        process.stop()


def make_version(template, number):
    return TemplateVersion.objects.create(
        template=template, number=number, config_yaml=CONFIG.format(label=f"v{number}")
    )


@pytest.fixture
def template(org):
    return ConfigTemplate.objects.create(organization=org, name="edge")


@pytest.fixture
def v1(template):
    return make_version(template, 1)


@pytest.fixture
def gateways(org, v1):
    """20 gateways whose desired config is v1 (their agents get it when they connect)."""
    return [
        Gateway.objects.create(
            organization=org, name=f"sim-{index:02d}", desired_config=v1.config_yaml, desired_config_hash=v1.sha256
        )
        for index in range(1, AGENTS + 1)
    ]


@pytest.fixture
def agents(daphne, gateways, v1):
    """The 20 agents, connected, each running v1 (applied on connect) before the test starts."""
    tokens = {gateway.name: issue_opamp_token(gateway)[1] for gateway in gateways}
    fleet = Fleet(f"{daphne.ws_url}/v1/opamp", tokens).start()
    wait_for(
        lambda: Gateway.objects.filter(remote_config_hash=v1.sha256, status=GatewayStatus.ONLINE).count() == AGENTS
    )
    yield fleet
    fleet.stop()


@pytest.fixture
def api(daphne, alice):
    """POST to the live server's API as alice."""
    token = create_api_token(alice)[1]

    def post(path, body):
        request = urllib.request.Request(  # noqa: S310  (the local test server)
            daphne.url + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())

    return post


def wait_for(condition, seconds=60, interval=0.1, describe=lambda: ""):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s. {describe()}")
        time.sleep(interval)


def timeline(deployment):
    """What a failed wait shows: the deployment's events and its targets."""
    events = [f"{event.created_at:%H:%M:%S.%f} {event.kind}: {event.message}" for event in deployment.events.all()]
    targets = list(deployment.targets.values_list("gateway__name", "batch", "status", "error"))
    return "\n".join(["Timeline:", *events, f"Targets: {targets}"])


def deploy(api, version, gateways, **settings):
    body = {"template_version": str(version.pk), "selector_gateways": [str(gateway.pk) for gateway in gateways]}
    status, data = api("/api/v1/deployments/", {**body, **settings})
    assert status == 201, data
    assert data["target_count"] == AGENTS
    return Deployment.objects.get(pk=data["id"])


def holds(condition, seconds, interval=0.1):
    """Whether condition() stays true for `seconds` (False as soon as it does not): a check that nothing happens."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(interval)
    return condition()


def wait_until_finished(deployment, seconds=60):
    def check():
        deployment.refresh_from_db()
        return deployment.is_finished()

    wait_for(check, seconds, describe=lambda: timeline(deployment))


def batch_events(deployment, kind):
    return [(event.data["batch"], event.count) for event in deployment.events.filter(kind=kind)]


def test_a_canary_deployment_reaches_all_agents_in_its_batches_in_order(celery, api, agents, gateways, template):
    v2 = make_version(template, 2)
    started = time.monotonic()
    deployment = deploy(api, v2, gateways, strategy="canary", canary_count=2, batch_size=6, health_window_seconds=1)
    wait_until_finished(deployment)
    TIMINGS["canary_20_agents_4_batches"] = round(time.monotonic() - started, 2)

    assert deployment.status == DeploymentStatus.SUCCEEDED, list(deployment.events.values_list("message", flat=True))
    assert batch_events(deployment, EventKind.BATCH_STARTED) == [(0, 2), (1, 6), (2, 6), (3, 6)]
    assert [batch for batch, _ in batch_events(deployment, EventKind.GATE_PASSED)] == [0, 1, 2, 3]
    targets = list(deployment.targets.all())
    assert {target.status for target in targets} == {"applied"}
    for batch in (1, 2, 3):
        previous = [target for target in targets if target.batch == batch - 1]
        current = [target for target in targets if target.batch == batch]
        # A batch is sent only after the previous one applied and stayed healthy for the 1 s window.
        window = timedelta(seconds=deployment.health_window_seconds)
        assert min(t.sent_at for t in current) >= max(t.applied_at for t in previous) + window
    assert set(agents.received(v2.sha256).values()) == {1}
    assert set(agents.reported().values()) == {v2.sha256}


def test_a_failing_canary_stops_the_deployment_and_its_agents_return_to_the_previous_config(
    celery, api, agents, gateways, template, v1
):
    bad = make_version(template, 2)
    agents.bad_hashes.add(bad.sha256)
    started = time.monotonic()
    deployment = deploy(api, bad, gateways, strategy="canary", canary_count=3, batch_size=6, failure_threshold_count=0)
    wait_until_finished(deployment)
    canaries = set(deployment.targets.filter(batch=0).values_list("gateway__name", flat=True))
    # The agents re-apply the pushed previous config and report APPLIED with its hash.
    wait_for(lambda: all(agents.agents[name].reported_hash() == v1.sha256 for name in canaries))
    back = Gateway.objects.filter(name__in=canaries, remote_config_hash=v1.sha256, remote_config_status="applied")
    wait_for(lambda: back.count() == 3)
    TIMINGS["failed_canary_to_rolled_back"] = round(time.monotonic() - started, 2)

    # Finished means rolled back: the canaries were watched until they reported the previous config applied.
    assert deployment.status == DeploymentStatus.ROLLED_BACK
    kinds = [event.kind for event in deployment.events.all()]
    assert kinds[kinds.index("failed") :][:3] == ["failed", "stopped", "rollback_started"]
    assert (kinds[-1], "restored" in kinds) == ("rolled_back", True)
    assert batch_events(deployment, EventKind.BATCH_STARTED) == [(0, 3)]
    states = dict(deployment.targets.values_list("gateway__name", "status"))
    assert {states[name] for name in canaries} == {"failed"}  # the failure stays on record
    rollbacks = dict(deployment.targets.values_list("gateway__name", "rollback"))
    assert {rollbacks[name] for name in canaries} == {"restored"}
    assert {status for name, status in states.items() if name not in canaries} == {"pending"}
    received = agents.received(bad.sha256)
    assert {received[name] for name in canaries} == {1}
    assert sum(received.values()) == 3  # nobody beyond the canary got the bad config
    assert Gateway.objects.filter(desired_config_hash=v1.sha256).count() == AGENTS


def test_a_killed_worker_restarted_mid_rollout_still_applies_every_target_exactly_once(
    celery, api, agents, gateways, template
):
    v3 = make_version(template, 3)
    started = time.monotonic()
    deployment = deploy(api, v3, gateways, strategy="rolling", batch_size=4, health_window_seconds=1)
    wait_for(lambda: deployment.events.filter(kind=EventKind.BATCH_STARTED, data__batch=1).exists())
    celery["worker"].process.kill()  # SIGKILL: no goodbye, its unacknowledged task stays unacknowledged
    celery["worker"].process.wait()
    # Batch 1 applies without the worker (the server pushes, the agents report): from then on, a worker would
    # start batch 2 once the 1 s health window passed. Without one, nothing moves for that window and a few ticks.
    batch_1 = Gateway.objects.filter(pk__in=deployment.targets.filter(batch=1).values("gateway_id"))
    wait_for(lambda: batch_1.filter(remote_config_hash=v3.sha256, remote_config_status="applied").count() == 4)
    assert holds(
        lambda: not deployment.events.filter(kind=EventKind.BATCH_STARTED, data__batch=2).exists(),
        seconds=deployment.health_window_seconds + 5 * TICK_SECONDS,
    ), timeline(deployment)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    celery["worker"] = CeleryWorker(celery["worker"].queue, **WORKER_ENV)
    restarted_at = time.monotonic()
    wait_until_finished(deployment, seconds=120)
    TIMINGS["rolling_5_batches_with_worker_killed"] = round(time.monotonic() - started, 2)
    TIMINGS["restart_to_succeeded"] = round(time.monotonic() - restarted_at, 2)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert batch_events(deployment, EventKind.BATCH_STARTED) == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert set(deployment.targets.values_list("status", flat=True)) == {"applied"}
    assert set(agents.received(v3.sha256).values()) == {1}
    assert Gateway.objects.filter(remote_config_hash=v3.sha256, remote_config_status="applied").count() == AGENTS
