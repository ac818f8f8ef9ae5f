"""FlowGateServer's reaper and sweep, driven in-process: an asyncio loop for the applications, Twisted's
test clock for the reactor, plain objects for the connections (Daphne keys its table by protocol).

serve.py's reap_at_once extension: an application is reaped as soon as it ends, and a sweep every
SWEEP_SECONDS cancels applications that outlive their connection and drops closed connections.
tests/core/test_server_live.py shows the same on a real server with real sockets.
"""

import asyncio
import logging
import time

import pytest
from twisted.internet.task import Clock

from flowgate_site import serve, server_extensions
from flowgate_site.server_extensions import TESTED_VERSIONS

SCOPE = {"type": "websocket", "path": "/v1/opamp"}


class Protocol:
    """A connection as the server's table sees it: a key, and where an application's exception goes."""

    def __init__(self):
        self.exceptions = []

    def handle_exception(self, exception):
        self.exceptions.append(exception)


class App:
    """An ASGI application whose instances run until the test ends them (or raise what it says)."""

    def __init__(self):
        self.release = asyncio.Event()
        self.raises = None

    async def __call__(self, scope, receive, send):
        await self.release.wait()
        if self.raises:
            raise self.raises


@pytest.fixture
def loop():
    made = asyncio.new_event_loop()
    asyncio.set_event_loop(made)
    yield made
    pending = asyncio.all_tasks(made)
    for task in pending:
        task.cancel()
    made.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    made.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def clock(monkeypatch):
    made = Clock()
    monkeypatch.setattr(serve, "reactor", made)
    monkeypatch.setattr("daphne.server.reactor", made)
    return made


@pytest.fixture
def app():
    return App()


@pytest.fixture
def server(monkeypatch, loop, clock, app):
    monkeypatch.setattr(server_extensions, "installed_versions", lambda: TESTED_VERSIONS)
    made = serve.FlowGateServer(application=app, endpoints=["tcp:0"], signal_handlers=False)
    made.connections = {}  # what Daphne's run() starts with
    return made


def connect(server):
    protocol = Protocol()
    server.protocol_connected(protocol)
    server.create_application(protocol, dict(SCOPE))
    return protocol


def settle(loop):
    """Let the loop run what is ready: the applications, then their done callbacks."""
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))


def test_an_application_that_ends_is_reaped_at_once(server, loop, app):
    protocol = connect(server)
    app.release.set()
    settle(loop)
    # No sweep ran: the connection is still open, its ended application is gone.
    assert server.connections[protocol] == {"connected": server.connections[protocol]["connected"]}


def test_a_closed_connection_is_dropped_as_soon_as_its_application_ends(server, loop, app):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    app.release.set()
    settle(loop)
    assert server.connections == {}


def test_a_closed_connection_without_application_is_dropped_at_once(server, loop):
    handshake = Protocol()  # the HTTP request a WebSocket upgrades: Daphne adds it, then marks it closed
    server.protocol_connected(handshake)
    server.protocol_disconnected(handshake)
    server.protocol_disconnected(handshake)  # Daphne may report a close twice
    assert server.connections == {}


def test_an_application_exception_is_logged_and_handed_to_its_open_connection(server, loop, app, caplog):
    protocol = connect(server)
    app.raises = ValueError("boom")
    app.release.set()
    with caplog.at_level(logging.ERROR, logger="daphne.server"):
        settle(loop)
    assert [str(exception) for exception in protocol.exceptions] == ["boom"]
    assert "Exception inside application: boom" in caplog.text


def test_the_sweep_cancels_an_application_that_outlives_its_connection(server, loop):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    server.connections[protocol]["disconnected"] = time.time() - server.application_close_timeout - 1
    server.application_checker()
    settle(loop)
    assert server.connections == {}  # cancelled, then reaped and dropped


def test_the_sweep_leaves_a_recently_closed_connections_application_running(server, loop):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    server.application_checker()
    settle(loop)
    assert not server.connections[protocol]["application_instance"].done()


def test_the_sweep_drops_closed_connections_and_runs_every_sweep_seconds(server, loop, clock):
    open_one, closed = connect(server), Protocol()
    server.protocol_connected(closed)
    server.connections[closed]["disconnected"] = time.time()  # closed, and missed by protocol_disconnected
    server.application_checker()
    assert list(server.connections) == [open_one]
    assert [call.getTime() for call in clock.getDelayedCalls()] == [serve.SWEEP_SECONDS]
    clock.advance(serve.SWEEP_SECONDS)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [2 * serve.SWEEP_SECONDS]


def test_shutdown_cancels_running_applications_and_skips_reaped_ones(server, loop, app):
    running = connect(server)
    ended = connect(server)
    settle(loop)
    server.connections[ended]["application_instance"].cancel()
    settle(loop)  # reaped while its connection is still open
    instance = server.connections[running]["application_instance"]
    waited = server.kill_all_applications()  # Daphne's own raised KeyError here
    settle(loop)
    assert instance.cancelled()
    assert waited.called  # Twisted's shutdown goes on once the cancelled applications ended
