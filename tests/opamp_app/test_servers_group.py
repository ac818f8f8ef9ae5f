"""The per-process listener on the servers group stays a member through channel-layer outages.

Group memberships live in Redis: a Redis restart loses them. The listener must join again by
itself, within seconds, whether or not its own receive saw the outage as an error.
"""

import asyncio
import threading
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from opamp_app import presence
from opamp_app.presence import CONFIGS_CHANGED, SERVERS_GROUP, Registry
from tests.opamp_app.test_presence import FakeConnection


class RestartingLayer(InMemoryChannelLayer):
    """An in-memory layer with `restart()`: what a Redis restart does (memberships gone, a pending receive fails)."""

    def __init__(self):
        super().__init__()
        self.restarted = None

    async def receive(self, channel):
        self.restarted = self.restarted or asyncio.Event()
        receiving = asyncio.ensure_future(super().receive(channel))
        restarted = asyncio.ensure_future(self.restarted.wait())
        await asyncio.wait({receiving, restarted}, return_when=asyncio.FIRST_COMPLETED)
        restarted.cancel()
        if receiving.done():
            return receiving.result()
        receiving.cancel()
        self.restarted.clear()
        raise ConnectionError("Connection closed by server.")

    def restart(self, *, seen=True):
        """Drop every membership; with `seen`, the pending receive fails as a closed connection does."""
        self.groups.clear()
        if seen:
            self.restarted.set()


async def eventually(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {seconds} s"
        await asyncio.sleep(0.02)


async def outage_then_push(monkeypatch, *, seen):
    """Start the listener, restart the layer, push a config to the group: how long the listener took to rejoin."""
    layer = RestartingLayer()
    monkeypatch.setattr(presence, "get_channel_layer", lambda: layer)
    connection = FakeConnection(uuid.uuid4())
    registry = Registry()
    registry.by_gateway[connection.agent.gateway.pk] = {connection}
    listener = asyncio.ensure_future(registry._listen())
    try:
        await eventually(lambda: SERVERS_GROUP in layer.groups and layer.restarted, seconds=2)
        layer.restart(seen=seen)
        started = time.monotonic()
        await eventually(lambda: SERVERS_GROUP in layer.groups, seconds=5)
        rejoined = time.monotonic() - started
        event = {"type": CONFIGS_CHANGED, "desired_config": "a: 1\n", "desired_config_hash": "ab"}
        await layer.group_send(SERVERS_GROUP, {**event, "gateway_ids": [connection.agent.gateway.pk.hex]})
        await eventually(lambda: connection.configs, seconds=2)
        return rejoined
    finally:
        listener.cancel()


def test_the_listener_joins_the_servers_group_again_after_a_channel_layer_error(monkeypatch):
    rejoined = async_to_sync(outage_then_push)(monkeypatch, seen=True)
    assert rejoined < 2  # RETRY_SECONDS after the error, not the next hourly renewal


def test_the_listener_rejoins_a_group_it_lost_without_seeing_an_error(monkeypatch):
    # redis-py reconnects by itself: a restart between two reads may never reach the listener.
    monkeypatch.setattr(presence, "JOIN_SECONDS", 0.2)
    rejoined = async_to_sync(outage_then_push)(monkeypatch, seen=False)
    assert rejoined < 1


class WaitForLayer(InMemoryChannelLayer):
    """A layer whose receive() works as channels-redis's on redis-py: each command is sent through
    asyncio.wait_for, then the blocking pop comes back empty (here after 10 ms) and is sent again."""

    async def receive(self, channel):
        while True:
            await asyncio.wait_for(asyncio.sleep(0), timeout=15)
            await asyncio.sleep(0.01)


def shuts_down_within(seconds, main):
    """Whether asyncio.run(main()) ends within `seconds`, in a thread as async_to_sync runs it.

    asyncio.run's end cancels every task of the loop once and waits for all of them.
    """
    loops = []

    async def run():
        loops.append(asyncio.get_running_loop())
        await main()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    thread.join(seconds)
    if not thread.is_alive():
        return True
    # Cancel once more, so that a failure leaves no loop running behind it.
    loop = loops[0]
    loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
    thread.join(5)
    return False


def test_the_listener_ends_with_its_event_loop_whenever_the_loop_shuts_down(monkeypatch):
    # On Python 3.11, wait_for loses a cancellation that lands just as its operation completes: the
    # loop's shutdown then waited for the listener for ever (the idle hangs of async_to_sync in tests).
    monkeypatch.setattr(presence, "get_channel_layer", WaitForLayer)

    def main_returning_after(ticks):
        async def main():
            Registry().ensure_running()
            for _ in range(ticks):
                await asyncio.sleep(0)

        return main

    stuck = [ticks for ticks in range(20) if not shuts_down_within(2, main_returning_after(ticks))]
    assert stuck == []
