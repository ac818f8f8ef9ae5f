"""Fixtures of the OpAMP transport tests: gateways with tokens, a live server, a WebSocket agent."""

import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone
from websockets.sync.client import connect

from flowgate_site.celery import app as celery_app
from gateways_app.services import create_registration_token, issue_opamp_token, revoke_opamp_token
from opamp_core import framing
from opamp_core.proto import opamp_pb2
from tests.live import Daphne, free_port, redis_url
from tests.opamp_app.peer import CONFIG_CAPS, Agent

Caps = opamp_pb2.AgentCapabilities
WS_CAPS = CONFIG_CAPS | Caps.AgentCapabilities_ReportsHeartbeat | Caps.AgentCapabilities_ReportsHealth


@pytest.fixture(autouse=True)
def no_persistent_thread_connections(monkeypatch):
    """Database connections opened by worker threads (database_sync_to_async) close after each call.

    Otherwise they outlive the test (CONN_MAX_AGE) and the test database cannot be dropped.
    """
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture(scope="session")
def redis_prefix():
    """A Redis key prefix of this test run only, used by this process and the servers it starts.

    Parallel runs against the same Redis then never see each other's groups, tasks or cache keys.
    """
    url = redis_url()
    prefix = f"flowgate-test-{uuid.uuid4().hex[:12]}"
    # The configured layer (REDIS_URL set), with this run's prefix.
    layer = settings.CHANNEL_LAYERS["default"]
    layer = {**layer, "CONFIG": {**layer["CONFIG"], "prefix": f"{prefix}:asgi"}}
    cache = {**settings.CACHES["default"], "KEY_PREFIX": prefix}
    with override_settings(REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS={"default": layer}, CACHES={"default": cache}):
        celery_app.conf.update(
            broker_url=url,
            task_default_queue=f"{prefix}-tasks",
            broker_transport_options={"global_keyprefix": f"{prefix}:celery:"},
        )
        yield prefix
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def daphne(django_db_setup, redis_prefix):
    """One live server (flowgate_site.serve) for the tests of a module, on the test database."""
    server = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1)
    yield server
    server.stop()


def make_token(gateway):
    """A fresh OpAMP JWT for the gateway."""
    return issue_opamp_token(gateway)[1]


@pytest.fixture
def token(gateway):
    return make_token(gateway)


def expired_token(gateway):
    # Issued 400 days ago with the 365-day default lifetime.
    return issue_opamp_token(gateway, now=timezone.now() - timedelta(days=400))[1]


def revoked_token(gateway):
    row, raw = issue_opamp_token(gateway)
    revoke_opamp_token(row, user=None)
    return raw


def registration_token(gateway):
    return create_registration_token(gateway.organization, name="reg", created_by=None)[1]


BAD_TOKENS = {
    "missing": (lambda gateway: None, "missing token"),
    "malformed": (lambda gateway: "not.a.jwt", "malformed token"),
    "expired": (expired_token, "token expired"),
    "revoked": (revoked_token, "token revoked"),
    "registration token": (registration_token, "wrong token type"),
}


class WsAgent(Agent):
    """An OpAMP agent on a real WebSocket: sends framed AgentToServer, reads framed ServerToAgent."""

    def __init__(self, ws, **kwargs):
        kwargs.setdefault("capabilities", WS_CAPS)
        super().__init__(**kwargs)
        self.ws = ws

    def send(self, **fields):
        """Send one message; the server's reply."""
        self.ws.send(framing.encode(self.message(**fields)))
        return self.receive()

    def receive(self, timeout=10):
        return framing.decode(self.ws.recv(timeout=timeout), opamp_pb2.ServerToAgent)

    def close(self):
        self.ws.close()


def open_ws(server, token=None, path="/v1/opamp", query="", headers=None):
    """A websockets (sync) connection to the server; the token goes in the Authorization header."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{server.ws_url}{path}{query}"
    return connect(url, additional_headers=headers, open_timeout=10, max_size=None, legacy=True)


@pytest.fixture
def ws_agent(daphne, token):
    """A connected WebSocket agent of `gateway` (closed after the test)."""
    agent = WsAgent(open_ws(daphne, token))
    yield agent
    agent.close()
