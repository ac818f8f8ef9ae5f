"""Slow clients on a live server: a request head must be complete in time; open connections stay (docs/security.md)."""

import select
import socket
import threading
import time

import pytest
import requests
from django.db import connection, transaction

from tests.live import Daphne, free_port
from tests.opamp_app.conftest import WsAgent, make_token, open_ws
from tests.opamp_app.peer import CONFIG_CAPS, Agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(60)]

HEADER_TIMEOUT = 1.0
HEADS = {
    "page": b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "websocket upgrade": (
        b"GET /v1/opamp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Slow: "
    ),
}


@pytest.fixture(scope="module")
def server(django_db_setup):
    started = Daphne([free_port()], FLOWGATE_HTTP_HEADER_TIMEOUT_SECONDS=HEADER_TIMEOUT)
    yield started
    started.stop()


def dribble(sock, first, deadline):
    """Send `first`, then one header byte every 0.2 s until the server closes; seconds until then (None: never)."""
    started = time.monotonic()
    sock.sendall(first)
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                answer = sock.recv(65536)
            except ConnectionResetError:
                answer = b""
            if not answer or answer.startswith(b"HTTP/1.1 408"):
                return time.monotonic() - started
        try:
            sock.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
    return None


@pytest.mark.parametrize("kind", HEADS)
def test_a_client_dribbling_its_header_is_disconnected_after_the_timeout(server, kind):
    with socket.create_connection(("127.0.0.1", server.ports[0]), timeout=5) as sock:
        closed_after = dribble(sock, HEADS[kind], deadline=time.monotonic() + HEADER_TIMEOUT + 4)
    print(f"{kind}: closed after {closed_after} s")
    # It kept sending, so an idle timeout alone would never fire.
    assert closed_after is not None, "the server kept the connection open"
    assert HEADER_TIMEOUT - 0.1 <= closed_after < HEADER_TIMEOUT + 2


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    with socket.create_connection(("127.0.0.1", server.ports[0]), timeout=HEADER_TIMEOUT + 4) as sock:
        started = time.monotonic()
        try:
            answer = sock.recv(65536)
        except TimeoutError:
            answer = None
        closed_after = time.monotonic() - started
    assert answer is not None and (answer == b"" or answer.startswith(b"HTTP/1.1 408"))
    assert closed_after < HEADER_TIMEOUT + 2


def test_an_idle_opamp_websocket_agent_stays_connected_past_the_timeout(server, gateway):
    agent = WsAgent(open_ws(server, make_token(gateway)))
    try:
        assert agent.send().instance_uid == agent.uid
        # Idle between heartbeats for several header timeouts: nothing may cut it (the idling is what is tested).
        time.sleep(HEADER_TIMEOUT * 3)
        assert agent.send().instance_uid == agent.uid
    finally:
        agent.close()


def test_a_slow_application_response_is_not_cut(server, gateway):
    token = make_token(gateway)
    message = Agent(capabilities=CONFIG_CAPS).message().SerializeToString()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    result = {}

    def post():
        result["response"] = requests.post(f"{server.url}/v1/opamp", data=message, headers=headers, timeout=20)

    with transaction.atomic():
        # The request waits for the token table (a long poll, from the connection's point of view).
        connection.cursor().execute("LOCK TABLE gateways_app_opamptoken IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=post)
        thread.start()
        time.sleep(HEADER_TIMEOUT * 2.5)  # the slow response under test: the lock is held past the header timeout
    thread.join(timeout=20)
    assert result["response"].status_code == 200, server.output.text()[-3000:]
