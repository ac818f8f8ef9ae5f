"""FlowGateServer's reaper and shutdown, driven in-process: an asyncio loop for the applications, Twisted's
test clock for the reactor, plain objects for the connections (Daphne keys its table by protocol).

Daphne's sweep, every second, reaps ended applications, cancels those that outlive their connection and
drops closed connections; serve.py's clean_shutdown keeps a close reported twice and a shutdown with
ended applications from raising. tests/core/test_server_live.py shows the same on a real server.
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


def test_an_application_that_ends_is_reaped_by_the_sweep(server, loop, app):
    protocol = connect(server)
    app.release.set()
    settle(loop)
    server.application_checker()
    # The connection is still open, its ended application is gone.
    assert server.connections[protocol] == {"connected": server.connections[protocol]["connected"]}


def test_a_closed_connection_is_dropped_once_its_application_ended(server, loop, app):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    server.application_checker()
    assert protocol in server.connections  # its application still runs
    app.release.set()
    settle(loop)
    server.application_checker()
    assert server.connections == {}


def test_a_close_reported_again_after_the_sweep_dropped_the_connection_is_ignored(server, loop):
    handshake = Protocol()  # the HTTP request a WebSocket upgrades: Daphne adds it, then marks it closed
    server.protocol_connected(handshake)
    server.protocol_disconnected(handshake)
    server.application_checker()
    assert server.connections == {}
    server.protocol_disconnected(handshake)  # Daphne may report a close twice; its own method raised KeyError
    assert server.connections == {}


def test_an_application_exception_is_logged_and_handed_to_its_open_connection(server, loop, app, caplog):
    protocol = connect(server)
    app.raises = ValueError("boom")
    app.release.set()
    settle(loop)
    with caplog.at_level(logging.ERROR, logger="daphne.server"):
        server.application_checker()
    assert [str(exception) for exception in protocol.exceptions] == ["boom"]
    assert "Exception inside application: boom" in caplog.text


def test_the_sweep_cancels_an_application_that_outlives_its_connection(server, loop):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    server.connections[protocol]["disconnected"] = time.time() - server.application_close_timeout - 1
    server.application_checker()
    settle(loop)
    server.application_checker()
    assert server.connections == {}  # cancelled, then reaped and dropped


def test_the_sweep_leaves_a_recently_closed_connections_application_running(server, loop):
    protocol = connect(server)
    server.protocol_disconnected(protocol)
    server.application_checker()
    settle(loop)
    assert not server.connections[protocol]["application_instance"].done()


def test_the_sweep_runs_every_second(server, loop, clock):
    server.application_checker()
    assert [call.getTime() for call in clock.getDelayedCalls()] == [1]
    clock.advance(1)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [2]


def test_shutdown_cancels_running_applications_and_skips_reaped_ones(server, loop, app):
    running = connect(server)
    ended = connect(server)
    settle(loop)
    server.connections[ended]["application_instance"].cancel()
    settle(loop)
    server.application_checker()  # reaped while its connection is still open
    assert "application_instance" not in server.connections[ended]
    instance = server.connections[running]["application_instance"]
    waited = server.kill_all_applications()  # Daphne's own raised KeyError here
    settle(loop)
    assert instance.cancelled()
    assert waited.called  # Twisted's shutdown goes on once the cancelled applications ended
