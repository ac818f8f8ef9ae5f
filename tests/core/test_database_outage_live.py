"""A real database outage: a server on a private PostgreSQL that the test stops and starts again.

Enrollment, OpAMP over HTTP and WebSocket, and API token authentication answer 503 + Retry-After
while PostgreSQL is down (OpAMP with UNAVAILABLE and retry_info), and work again once it is back.
The shared PostgreSQL is never touched: this one lives in a temporary directory on a free port.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from opamp_core.proto import opamp_pb2
from tests.live import ROOT, Daphne, free_port, server_env

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

POSTGRES_BIN = "/usr/lib/postgresql/15/bin"


def postgres_tool(name):
    path = shutil.which(name) or os.path.join(POSTGRES_BIN, name)
    if not os.path.exists(path):
        pytest.fail(f"this test needs PostgreSQL's {name} (the postgresql server package)")
    return path


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory; run as the postgres user when the tests run as root."""

    def __init__(self, directory):
        self.data = directory / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(directory, self.user)
        self.run(postgres_tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def run(self, *command):
        subprocess.run(command, check=True, capture_output=True, user=self.user, timeout=60)  # noqa: S603

    def start(self):
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -l: the server's output goes to a file, not to our pipes (which would then never close).
        log = str(self.data.parent / "postgres.log")
        self.run(postgres_tool("pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self):
        self.run(postgres_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres():
    # Not pytest's tmp_path: under root it is private to root, and PostgreSQL runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="flowgate-outage-"))
    server = PrivatePostgres(directory)
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def manage(database_url, *args):
    env = server_env(DATABASE_URL=database_url)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def enroll(server, token, name):
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(f"{server.url}/api/v1/gateways/register", json={"name": name}, headers=headers, timeout=10)


def opamp_poll(server, token):
    message = opamp_pb2.AgentToServer(instance_uid=uuid.uuid4().bytes, sequence_num=1)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    return requests.post(f"{server.url}/v1/opamp", data=message.SerializeToString(), headers=headers, timeout=10)


def handshake_status(server, token):
    try:
        with connect(f"{server.ws_url}/v1/opamp", additional_headers={"Authorization": f"Bearer {token}"}):
            return 101
    except InvalidStatus as refusal:
        return refusal.response.status_code, refusal.response.headers.get("Retry-After")


def reply_of(response):
    return opamp_pb2.ServerToAgent.FromString(response.content)  # requests has gunzipped it


def test_an_outage_answers_503_and_the_server_recovers(private_postgres):
    manage(private_postgres.url, "migrate", "--noinput")
    manage(private_postgres.url, "createorg", "outage")
    registration = manage(private_postgres.url, "createregistrationtoken", "outage", "--uses", "2")
    server = Daphne([free_port()], DATABASE_URL=private_postgres.url, FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS=7)
    try:
        first = enroll(server, registration, "gw-before")
        assert first.status_code == 201, first.text
        opamp_token = first.json()["opamp_token"]

        private_postgres.stop()
        refused = enroll(server, registration, "gw-during")
        assert (refused.status_code, refused.headers.get("Retry-After")) == (503, "7"), refused.text
        assert "database" in refused.json()["detail"].lower()
        poll = opamp_poll(server, opamp_token)
        assert (poll.status_code, poll.headers.get("Retry-After")) == (503, "30")
        assert reply_of(poll).error_response.type == opamp_pb2.ServerErrorResponseType_Unavailable
        assert handshake_status(server, opamp_token) == (503, "30")
        api = requests.get(f"{server.url}/api/v1/gateways/", headers={"Authorization": "Token fgu_x"}, timeout=10)
        assert api.status_code == 503

        private_postgres.start()
        assert wait_for_status(lambda: enroll(server, registration, "gw-after"), 201)
        assert opamp_poll(server, opamp_token).status_code == 200
    finally:
        server.stop()


def wait_for_status(request, status, timeout=15):
    """Whether request() answers `status` before the deadline (connections come back on the next request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if request().status_code == status:
            return True
        time.sleep(0.2)
    return False
