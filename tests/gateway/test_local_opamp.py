"""The supervisor's local OpAMP endpoint for a collector with the opamp extension (gateway/local_opamp.py).

The collector builds on this machine have no opamp extension, so a websockets client plays the
extension: real WebSocket frames with the OpAMP header, as opamp-go sends them.
"""

import asyncio
import uuid

import pytest
import websockets
import yaml
from websockets.asyncio.client import connect

from gateway.collector import Collector, Components
from gateway.config import Settings
from gateway.configs import ConfigManager
from gateway.local_opamp import LocalOpAMPServer, with_opamp_extension
from gateway.state import Identity, RemoteConfigState, StateDir
from gateway.supervisor import Supervisor
from opamp_core import framing
from opamp_core.proto import opamp_pb2
from tests.gateway.conftest import filelog_config
from tests.live import free_port

UID = uuid.uuid4()
FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
REMOTE = """\
receivers: {otlp: {}}
exporters: {debug: {}}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
"""


def pipeline_health(healthy):
    health = opamp_pb2.ComponentHealth(healthy=healthy, status="StatusOK" if healthy else "StatusRecoverableError")
    pipeline = health.component_health_map["pipeline:traces"]
    pipeline.healthy = healthy
    pipeline.component_health_map["exporter:otlphttp"].last_error = "" if healthy else "connection refused"
    return health


def test_the_extension_is_added_beside_the_configs_own():
    config = {
        "extensions": {"health_check": {}, "opamp": {"server": {"ws": {"endpoint": "wss://elsewhere/v1/opamp"}}}},
        "service": {"extensions": ["health_check", "opamp"], "pipelines": {}},
    }
    extended = with_opamp_extension(config, 4321, str(UID))
    assert extended["extensions"] == {
        "health_check": {},
        "opamp": {"server": {"ws": {"endpoint": "ws://127.0.0.1:4321/v1/opamp"}}, "instance_uid": str(UID)},
    }
    assert extended["service"] == {"extensions": ["health_check", "opamp"], "pipelines": {}}
    assert config["extensions"]["opamp"]["server"]["ws"]["endpoint"] == "wss://elsewhere/v1/opamp"  # untouched
    assert with_opamp_extension({}, 4321, str(UID))["service"] == {"extensions": ["opamp"]}


def test_every_config_the_supervisor_writes_carries_it(tmp_path):
    extend = lambda config: with_opamp_extension(config, 4321, str(UID))  # noqa: E731
    manager = ConfigManager(StateDir(tmp_path / "state"), collector=None, extend=extend)
    text = manager.desired_text(RemoteConfigState(hash="ab" * 32, status="applied", yaml=REMOTE))
    config = yaml.safe_load(text)
    assert config["service"]["extensions"] == ["opamp"]
    assert config["service"]["pipelines"]["traces"] == {"receivers": ["otlp"], "exporters": ["debug"]}
    plain = ConfigManager(StateDir(tmp_path / "other"), collector=None)
    assert "opamp" not in plain.desired_text(RemoteConfigState(hash="ab" * 32, status="applied", yaml=REMOTE))


class Extension:
    """The collector's opamp extension, as far as the endpoint sees it."""

    def __init__(self, websocket):
        self.websocket = websocket
        self.sequence_num = 0

    async def send(self, **fields):
        message = opamp_pb2.AgentToServer(instance_uid=UID.bytes, sequence_num=self.sequence_num, **fields)
        self.sequence_num += 1
        await self.websocket.send(framing.encode(message))
        return framing.decode(await self.websocket.recv(), opamp_pb2.ServerToAgent)


async def with_endpoint(scenario):
    changes = []
    server = LocalOpAMPServer(0, on_change=lambda: changes.append(server.health))
    await server.start()
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/v1/opamp") as websocket:
            result = await scenario(server, Extension(websocket))
        for _ in range(50):  # the endpoint notices the close
            if server.health is None:
                break
            await asyncio.sleep(0.02)
        return result, server, changes
    finally:
        await server.stop()


def test_it_keeps_the_collectors_health_and_answers_every_message():
    async def scenario(server, extension):
        first = await extension.send(
            capabilities=opamp_pb2.AgentCapabilities.AgentCapabilities_ReportsHealth,
            agent_description=opamp_pb2.AgentDescription(),
        )
        report = await extension.send(health=pipeline_health(False))
        seen = opamp_pb2.ComponentHealth()
        seen.CopyFrom(server.health)
        heartbeat = await extension.send()
        return first, report, heartbeat, seen

    (first, report, heartbeat, seen), server, changes = asyncio.run(with_endpoint(scenario))
    assert first.instance_uid == UID.bytes and first.flags & FULL_STATE  # no health yet: asks for it
    assert first.capabilities & opamp_pb2.ServerCapabilities_AcceptsStatus
    assert not report.flags & FULL_STATE and not heartbeat.flags & FULL_STATE
    assert seen == pipeline_health(False)
    assert seen.component_health_map["pipeline:traces"].component_health_map["exporter:otlphttp"].last_error
    # Told once when the health came, once when the collector left (its health is gone then).
    assert changes == [pipeline_health(False), None]
    assert server.health is None and server.messages == 3


def test_a_sequence_gap_asks_for_the_full_state():
    async def scenario(server, extension):
        await extension.send(health=pipeline_health(True))
        extension.sequence_num += 5
        return await extension.send()

    reply, _, _ = asyncio.run(with_endpoint(scenario))
    assert reply.flags & FULL_STATE


def test_a_malformed_message_gets_bad_request_and_the_next_one_works():
    async def scenario(server, extension):
        await extension.websocket.send(b"\x07not a message")
        error = framing.decode(await extension.websocket.recv(), opamp_pb2.ServerToAgent)
        return error, await extension.send(health=pipeline_health(True))

    (error, reply), _, changes = asyncio.run(with_endpoint(scenario))
    assert error.error_response.type == opamp_pb2.ServerErrorResponseType_BadRequest
    assert "header" in error.error_response.error_message
    assert reply.instance_uid == UID.bytes and changes[0] == pipeline_health(True)


def test_other_paths_are_refused():
    async def scenario():
        server = LocalOpAMPServer(0)
        await server.start()
        try:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{server.port}/elsewhere"):
                    pass
            return refused.value.response.status_code
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == 404


def supervisor_with(tmp_path, binary, *, port, extensions):
    settings = Settings(state_dir=str(tmp_path / "state"), collector=binary, local_opamp_port=port).check()
    supervisor = Supervisor(settings)
    supervisor.identity = Identity(instance_uid=UID.hex)
    supervisor.components = Components(version="0.0.0", kinds={"extensions": extensions})
    return supervisor


@pytest.mark.process
def test_the_endpoint_runs_only_for_a_collector_with_the_extension(tmp_path, collector_binary):
    async def extend_of(supervisor):
        return await supervisor._start_local_endpoint()

    for port, extensions in ((free_port(), {}), (0, {"opamp": ""})):
        supervisor = supervisor_with(tmp_path, collector_binary, port=port, extensions=extensions)
        assert asyncio.run(extend_of(supervisor)) is None and supervisor.local is None


@pytest.mark.process
@pytest.mark.timeout(120)
def test_the_supervisors_health_carries_what_the_collector_reports(tmp_path, collector_binary):
    """A running collector (the real binary), and its opamp extension reporting a failing exporter."""
    log = tmp_path / "in.log"
    log.write_text("")
    supervisor = supervisor_with(tmp_path, collector_binary, port=free_port(), extensions={"opamp": ""})

    async def scenario():
        extend = await supervisor._start_local_endpoint()
        supervisor.collector = Collector(collector_binary, supervisor.state.collector_dir / "config.yaml")
        # This build cannot run the extension: the collector runs its config as is, the client stands in.
        supervisor.configs = ConfigManager(supervisor.state, supervisor.collector, apply_timeout=20, settle=0.5)
        try:
            assert (await supervisor.configs.apply_text(filelog_config(log, "http://127.0.0.1:9"))).ok
            assert "opamp" in extend({})["extensions"]
            alone = supervisor.health()
            async with connect(f"ws://127.0.0.1:{supervisor.local.port}/v1/opamp") as websocket:
                await Extension(websocket).send(health=pipeline_health(False))
                reported = supervisor.health()
            for _ in range(50):
                if supervisor.local.health is None:
                    break
                await asyncio.sleep(0.02)
            return alone, reported, supervisor.health()
        finally:
            await supervisor.collector.stop()
            await supervisor.local.stop()

    alone, reported, after = asyncio.run(scenario())
    assert alone.healthy and "reported_by_collector" not in alone.component_health_map["collector"].component_health_map
    assert not reported.healthy
    collector_part = reported.component_health_map["collector"]
    assert not collector_part.healthy
    assert collector_part.component_health_map["reported_by_collector"] == pipeline_health(False)
    assert after.healthy  # the collector's report left with its connection
