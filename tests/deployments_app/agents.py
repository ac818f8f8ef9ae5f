"""Simulated OpAMP agents for the live rollout test: real WebSocket clients (`websockets`), no Django.

Each agent connects with its gateway's OpAMP token, reports its state (healthy, accepting and
reporting remote config) and answers every AgentRemoteConfig it receives with a
RemoteConfigStatus for that config's hash: APPLIED, or FAILED when the hash is one the test
marked bad. It counts how many times it received each config hash, which lets a test prove
that a config reached an agent exactly once.

The agents run as asyncio tasks on an event loop in a background thread (`Fleet`), so a
synchronous pytest test can drive the server and read the agents' counters meanwhile.
"""

import asyncio
import contextlib
import threading
import uuid
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from opamp_core import framing
from opamp_core.proto import anyvalue_pb2, opamp_pb2

Caps = opamp_pb2.AgentCapabilities
CAPABILITIES = (
    Caps.AgentCapabilities_ReportsStatus
    | Caps.AgentCapabilities_AcceptsRemoteConfig
    | Caps.AgentCapabilities_ReportsRemoteConfig
    | Caps.AgentCapabilities_ReportsHealth
)
REPORT_FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
APPLIED = opamp_pb2.RemoteConfigStatuses_APPLIED
FAILED = opamp_pb2.RemoteConfigStatuses_FAILED


def _attribute(key, value):
    pair = anyvalue_pb2.KeyValue(key=key)
    pair.value.string_value = value
    return pair


class SimAgent:
    """One collector: applies (or fails) every config it is sent, instantly, and reports it."""

    def __init__(self, name, token, bad_hashes):
        self.name = name
        self.token = token
        self.uid = uuid.uuid4().bytes
        self.bad_hashes = bad_hashes  # shared set of hex hashes this fleet fails to apply
        self.sequence_num = 0
        self.received = Counter()  # config hash (hex) -> times received
        self.status = None  # the last RemoteConfigStatus reported
        self.connected = threading.Event()
        self.ws = None

    def _message(self, **fields):
        message = opamp_pb2.AgentToServer(
            instance_uid=self.uid, sequence_num=self.sequence_num, capabilities=CAPABILITIES, **fields
        )
        self.sequence_num += 1
        return message

    def full_state(self):
        description = opamp_pb2.AgentDescription(
            identifying_attributes=[_attribute("service.name", "sim-collector"), _attribute("service.version", "1.0")],
            non_identifying_attributes=[_attribute("host.name", f"{self.name}.sim")],
        )
        message = self._message(
            agent_description=description, health=opamp_pb2.ComponentHealth(healthy=True, status="StatusOK")
        )
        if self.status is not None:
            message.remote_config_status.CopyFrom(self.status)
        return message

    async def run(self, url):
        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(url, additional_headers=headers, compression=None, proxy=None, open_timeout=30) as ws:
            self.ws = ws
            await ws.send(framing.encode(self.full_state()))
            self.connected.set()
            try:
                async for data in ws:
                    await self._on_message(framing.decode(data, opamp_pb2.ServerToAgent))
            except ConnectionClosed:
                pass

    async def _on_message(self, message):
        if message.HasField("remote_config"):
            config_hash = bytes(message.remote_config.config_hash)
            self.received[config_hash.hex()] += 1
            if config_hash.hex() in self.bad_hashes:
                self.status = opamp_pb2.RemoteConfigStatus(
                    last_remote_config_hash=config_hash, status=FAILED, error_message="simulated: invalid config"
                )
            else:
                self.status = opamp_pb2.RemoteConfigStatus(last_remote_config_hash=config_hash, status=APPLIED)
            await self.ws.send(framing.encode(self._message(remote_config_status=self.status)))
        elif message.flags & REPORT_FULL_STATE:
            await self.ws.send(framing.encode(self.full_state()))

    def reported_hash(self):
        return self.status.last_remote_config_hash.hex() if self.status is not None else ""


class Fleet:
    """Agents on their own event loop thread: `start()` connects them all, `stop()` closes them."""

    def __init__(self, url, tokens, bad_hashes=()):
        self.url = url
        self.bad_hashes = set(bad_hashes)
        self.agents = {name: SimAgent(name, token, self.bad_hashes) for name, token in tokens.items()}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks = []

    def start(self, timeout=30):
        self.thread.start()
        for agent in self.agents.values():
            future = asyncio.run_coroutine_threadsafe(agent.run(self.url), self.loop)
            self.tasks.append(future)
        for agent in self.agents.values():
            if not agent.connected.wait(timeout):
                raise TimeoutError(f"agent {agent.name} did not connect: {self.errors()}")
        return self

    def errors(self):
        return {
            name: repr(task.exception())
            for name, task in zip(self.agents, self.tasks, strict=True)
            if task.done() and task.exception()
        }

    def received(self, config_hash):
        """{agent name: times it received this config hash}."""
        return {name: agent.received[config_hash] for name, agent in self.agents.items()}

    def reported(self):
        """{agent name: the config hash it last reported}."""
        return {name: agent.reported_hash() for name, agent in self.agents.items()}

    def stop(self):
        async def close_all():
            for agent in self.agents.values():
                if agent.ws is not None:
                    await agent.ws.close()

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(10)
        for task in self.tasks:
            # A connection that failed is reported by errors(); closing goes on with the others.
            with contextlib.suppress(Exception):
                task.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
