"""A Redis restart in the middle of a rollout: the worker, beat and the server recover by themselves.

Redis here is the test's own (a redis-server on a free port, no persistence, as a cache-only
Redis is run): stopping it drops the broker's queues, the channel layer's group memberships and
every open connection. The server (Daphne), the Celery worker with beat (`make worker`) and the
simulated agents keep running; the deployment must still reach every agent.
PostgreSQL is required (tests/live.py); redis-server must be installed.
"""

import json
import shutil
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings

from core_app.services import create_api_token
from deployments_app.models import Deployment, DeploymentStatus, EventKind
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import issue_opamp_token
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.deployments_app.agents import Fleet
from tests.deployments_app.test_rollout_live import CONFIG
from tests.live import CeleryWorker, Daphne, free_port, unavailable, wait_for_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(120),
]

AGENTS = 8


class PrivateRedis:
    """A redis-server of this test's own; `stop()` loses every key, as restarting a Redis without persistence does."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.process = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        wait_for_port(self.port, self.process)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    yield server
    server.stop()


@pytest.fixture
def processes(private_redis, tmp_path):
    """Daphne and a Celery worker with beat, both on the private Redis; their output is shown on failure."""
    env = {"REDIS_URL": private_redis.url, "FLOWGATE_ROLLOUT_TICK_SECONDS": 0.3, "FLOWGATE_RECONCILE_SECONDS": 1}
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1, **env)
    queue = f"{settings.REDIS_KEY_PREFIX}-tasks"  # the default queue the server and beat send to
    try:
        worker = CeleryWorker(queue, broker=private_redis.url, beat_schedule=tmp_path / "schedule", **env)
    except Exception:
        daphne.stop()
        raise
    yield {"daphne": daphne, "worker": worker}
    for name, process in (("worker", worker), ("daphne", daphne)):
        output = process.stop()
        print(f"\n----- {name} -----\n{output}")


@pytest.fixture
def template(org):
    return ConfigTemplate.objects.create(organization=org, name="edge")


def make_version(template, number):
    config = CONFIG.format(label=f"v{number}")
    return TemplateVersion.objects.create(template=template, number=number, config_yaml=config)


@pytest.fixture
def agents(processes, org, template):
    """Eight connected agents, each running v1."""
    v1 = make_version(template, 1)
    gateways = [
        Gateway.objects.create(
            organization=org, name=f"sim-{index}", desired_config=v1.config_yaml, desired_config_hash=v1.sha256
        )
        for index in range(AGENTS)
    ]
    tokens = {gateway.name: issue_opamp_token(gateway)[1] for gateway in gateways}
    fleet = Fleet(f"{processes['daphne'].ws_url}/v1/opamp", tokens).start()
    ready = Gateway.objects.filter(remote_config_hash=v1.sha256, status=GatewayStatus.ONLINE)
    wait_for(lambda: ready.count() == AGENTS)
    yield fleet
    fleet.stop()


def wait_for(condition, seconds=30, describe=lambda: ""):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s. {describe()}")
        time.sleep(0.1)


def deploy(daphne, user, version):
    """Start a rolling deployment to every gateway through the live server's API (4 batches of 2)."""
    token = create_api_token(user)[1]
    body = {
        "template_version": str(version.pk),
        "selector_gateways": [str(pk) for pk in Gateway.objects.values_list("pk", flat=True)],
        "strategy": "rolling",
        "batch_size": 2,
        "health_window_seconds": 1,
    }
    request = urllib.request.Request(  # noqa: S310  (the local test server)
        f"{daphne.url}/api/v1/deployments/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 201
    return Deployment.objects.get()


def timeline(deployment):
    events = [f"{event.created_at:%H:%M:%S.%f} {event.kind}: {event.message}" for event in deployment.events.all()]
    targets = list(deployment.targets.values_list("gateway__name", "batch", "status", "error"))
    return "\n".join(["Timeline:", *events, f"Targets: {targets}"])


def test_a_rollout_completes_when_redis_restarts_in_the_middle(private_redis, processes, agents, alice, template):
    v2 = make_version(template, 2)
    deployment = deploy(processes["daphne"], alice, v2)
    wait_for(lambda: deployment.events.filter(kind=EventKind.BATCH_STARTED, data__batch=1).exists())

    private_redis.stop()
    worker = processes["worker"]
    worker.output.wait_for("Connection to broker lost", worker.process, timeout=10)
    private_redis.start()  # same port, empty: queues, tick messages and group memberships are gone
    restarted = time.monotonic()

    def finished():
        deployment.refresh_from_db()
        return deployment.is_finished()

    wait_for(finished, seconds=60, describe=lambda: timeline(deployment))
    print(f"\nRedis back to deployment finished: {time.monotonic() - restarted:.1f} s")
    assert deployment.status == DeploymentStatus.SUCCEEDED, timeline(deployment)
    assert set(deployment.targets.values_list("status", flat=True)) == {"applied"}
    assert set(agents.reported().values()) == {v2.sha256}
    assert worker.process.poll() is None  # the worker survived the restart
