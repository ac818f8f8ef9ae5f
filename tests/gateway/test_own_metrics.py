"""The supervisor's side of the own_metrics offer: the reader it writes into every config (checked with the real
`otelcol-contrib validate`), the offer kept in its state, the status reported to the portal.

The whole path with the real portal, supervisor and collector: tests/gateway/test_own_metrics_live.py.
"""

import asyncio

import pytest
import yaml

from gateway import own_metrics
from gateway.collector import Collector, validate
from gateway.configs import ApplyResult, ConfigManager, merge, render
from gateway.opamp_client import OWN_METRICS_CAPABILITIES, OpAMPClient
from gateway.state import StateDir
from gateway.supervisor import Supervisor
from opamp_core.offers import METRICS_INTERVAL_HEADER
from opamp_core.proto import opamp_pb2
from tests.gateway.conftest import filelog_config, telemetry_base
from tests.gateway.test_opamp_client import FakeAgent, handle
from tests.live import free_port

APPLIED = opamp_pb2.ConnectionSettingsStatuses_APPLIED
APPLYING = opamp_pb2.ConnectionSettingsStatuses_APPLYING
FAILED = opamp_pb2.ConnectionSettingsStatuses_FAILED
ENDPOINT = "https://portal.example.com:4320/v1/metrics"
OWN = own_metrics.OwnMetrics(ENDPOINT, (("Authorization", "Bearer fgt_abc_secret"),), 15)


def telemetry_settings(endpoint=ENDPOINT, interval="15", authorization="Bearer fgt_abc_secret"):
    settings = opamp_pb2.TelemetryConnectionSettings(destination_endpoint=endpoint)
    settings.headers.headers.add(key="Authorization", value=authorization)
    if interval is not None:
        settings.headers.headers.add(key=METRICS_INTERVAL_HEADER, value=interval)
    return settings


def base_config(log, port=9999) -> dict:
    """filelog → otlphttp with the collector's metrics also pulled on 127.0.0.1:`port` (a reader of the user's)."""
    return merge(yaml.safe_load(filelog_config(log, "http://127.0.0.1:9")), yaml.safe_load(telemetry_base(port)))


def readers(config):
    return config["service"]["telemetry"]["metrics"]["readers"]


# The offer and the reader


def test_the_offer_becomes_the_reader_and_the_interval_header_is_not_sent_on():
    offered = own_metrics.from_offer(telemetry_settings())
    assert offered == OWN
    assert offered.reader() == {
        "periodic": {
            "interval": 15000,
            "exporter": {
                "otlp": {
                    "protocol": "http/protobuf",
                    "endpoint": ENDPOINT,
                    "compression": "gzip",
                    "headers": [{"name": "Authorization", "value": "Bearer fgt_abc_secret"}],
                }
            },
        }
    }
    assert own_metrics.from_offer(telemetry_settings(interval=None)).interval_seconds == 30  # the default


@pytest.mark.parametrize(
    "offered, reason",
    [
        (telemetry_settings(endpoint="grpc://portal:4317"), "not an http"),
        (telemetry_settings(endpoint=""), "not an http"),
        (telemetry_settings(interval="soon"), "not a number"),
        (telemetry_settings(interval="0"), "out of range"),
    ],
)
def test_an_unusable_offer_is_refused_with_its_reason(offered, reason):
    with pytest.raises(ValueError, match=reason):
        own_metrics.from_offer(offered)


def test_the_reader_is_added_after_the_configs_own_readers_and_swapped_later():
    config = base_config("/tmp/app.log")
    pull = readers(config)[0]
    added = own_metrics.with_reader(config, OWN)
    assert readers(added) == [pull, OWN.reader()]
    assert readers(config) == [pull]  # the input is not modified
    assert readers(own_metrics.with_reader(added, OWN)) == [pull, OWN.reader()]  # never twice
    other = own_metrics.OwnMetrics("http://other:8000/v1/metrics", (), 60)
    swapped = own_metrics.with_reader(own_metrics.without_reader(added, OWN), other)
    assert readers(swapped) == [pull, other.reader()]
    assert own_metrics.without_reader(own_metrics.with_reader({}, OWN), OWN) == {"service": {"telemetry": {}}}
    assert own_metrics.with_reader(config, None) is config


def test_the_offer_is_kept_in_the_state_directory_privately(tmp_path):
    state = StateDir(tmp_path / "state")
    assert own_metrics.load(state.path) is None
    own_metrics.save(state.path, OWN)
    assert own_metrics.load(state.path) == OWN
    assert (state.path / own_metrics.FILE).stat().st_mode & 0o777 == 0o600  # it holds the credential
    own_metrics.save(state.path, None)
    assert own_metrics.load(state.path) is None


@pytest.mark.process
def test_the_real_collector_validates_configs_with_the_reader(tmp_path, collector_binary):
    config = base_config(tmp_path / "app.log")
    path = tmp_path / "config.yaml"
    path.write_text(render(own_metrics.with_reader(config, OWN)))
    assert asyncio.run(validate(collector_binary, path)) == (True, "")
    # `validate` does read the block: a key the collector does not know is refused.
    broken = own_metrics.with_reader(config, OWN)
    periodic = readers(broken)[-1]["periodic"]
    periodic["intervall"] = periodic.pop("interval")
    path.write_text(render(broken))
    ok, error = asyncio.run(validate(collector_binary, path))
    assert not ok and "invalid keys: intervall" in error


# The OpAMP client: capability, hand-over to the agent, status


class MetricsAgent(FakeAgent):
    def __init__(self, outcome=""):
        super().__init__()
        self.offers = []
        self.outcome = outcome

    def on_own_metrics(self, settings):
        self.offers.append(settings)
        if isinstance(self.outcome, str):
            return self.outcome

        async def apply():
            return self.outcome[0]

        return apply()


def client(agent):
    new = OpAMPClient(agent, instance_uid=b"\x01" * 16, token="t", ws_url="ws://x")
    new.next_message()
    return new


def offer(digest=b"h1"):
    reply = opamp_pb2.ServerToAgent()
    reply.connection_settings.hash = digest
    reply.connection_settings.own_metrics.CopyFrom(telemetry_settings())
    return reply


def test_only_agents_that_take_own_metrics_announce_the_capability():
    assert client(MetricsAgent()).next_message().capabilities & OWN_METRICS_CAPABILITIES == OWN_METRICS_CAPABILITIES
    plain = client(FakeAgent())
    assert not plain.next_message().capabilities & opamp_pb2.AgentCapabilities_ReportsOwnMetrics
    handle(plain, offer())  # an offer it cannot take is ignored


def test_an_offer_being_applied_is_reported_applying_then_applied():
    c = client(MetricsAgent(outcome=("",)))

    async def run():
        await c.handle(offer())
        assert c.next_message().connection_settings_status.status == APPLYING
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))

    asyncio.run(run())
    assert c.agent.offers[0].destination_endpoint == ENDPOINT
    status = c.next_message().connection_settings_status
    assert (status.last_connection_settings_hash, status.status) == (b"h1", APPLIED)


def test_an_offer_the_collector_does_not_take_is_reported_failed_with_the_reason():
    c = client(MetricsAgent(outcome=("the collector did not take the metrics reader: boom",)))
    handle(c, offer())
    status = c.next_message().connection_settings_status
    assert status.status == FAILED and "boom" in status.error_message


def test_an_unchanged_offer_is_applied_at_once_and_a_refused_one_failed_at_once():
    c = client(MetricsAgent(outcome=""))
    handle(c, offer())
    assert c.next_message().connection_settings_status.status == APPLIED
    c = client(MetricsAgent(outcome="not an http(s) URL"))
    handle(c, offer())
    assert c.next_message().connection_settings_status.error_message == "not an http(s) URL"


# The supervisor: a new offer rewrites the running config (real collector), and is kept


@pytest.mark.process
@pytest.mark.timeout(120)
def test_the_supervisor_rewrites_the_running_config_and_keeps_the_offer(tmp_path, collector_binary):
    state = StateDir(tmp_path / "state")
    supervisor = Supervisor.__new__(Supervisor)
    supervisor.state, supervisor.own_metrics, supervisor.client = state, None, None
    supervisor._report_config = lambda: None

    async def scenario():
        supervisor.apply_lock = asyncio.Lock()
        collector = Collector(collector_binary, state.collector_dir / "config.yaml")
        supervisor.configs = ConfigManager(
            state,
            collector,
            apply_timeout=30,
            extend=lambda config: own_metrics.with_reader(config, supervisor.own_metrics),
        )
        config = render(base_config(tmp_path / "app.log", free_port()))
        try:
            assert (await supervisor.configs.apply_remote(config)).ok
            first_pid = collector.pid
            assert "v1/metrics" not in supervisor.configs.effective_config()
            applying = supervisor.on_own_metrics(telemetry_settings(endpoint="http://127.0.0.1:9/v1/metrics"))
            assert await applying == ""
            running = yaml.safe_load(supervisor.configs.effective_config())
            assert readers(running)[-1]["periodic"]["exporter"]["otlp"]["endpoint"] == "http://127.0.0.1:9/v1/metrics"
            assert collector.running and collector.pid != first_pid  # restarted on it
            # The same offer again (a new connection) changes nothing; a remote config gets the reader too.
            assert supervisor.on_own_metrics(telemetry_settings(endpoint="http://127.0.0.1:9/v1/metrics")) == ""
            assert (await supervisor.configs.apply_remote(config.replace("100ms", "200ms"))).ok
            assert "http://127.0.0.1:9/v1/metrics" in supervisor.configs.effective_config()
        finally:
            await collector.stop()

    asyncio.run(scenario())
    assert own_metrics.load(state.path).endpoint == "http://127.0.0.1:9/v1/metrics"


def test_an_offer_the_collector_refuses_puts_the_previous_settings_back(tmp_path):
    state = StateDir(tmp_path / "state")
    own_metrics.save(state.path, OWN)
    supervisor = Supervisor.__new__(Supervisor)
    supervisor.state, supervisor.own_metrics, supervisor.client = state, OWN, None
    supervisor._report_config = lambda: None

    class RefusingConfigs:
        async def reapply(self, transform):
            self.tried = transform({})
            return ApplyResult(False, "'readers[1].periodic' has invalid keys: x")

    supervisor.configs = RefusingConfigs()

    async def scenario():
        supervisor.apply_lock = asyncio.Lock()
        return await supervisor.on_own_metrics(telemetry_settings(endpoint="http://new:8000/v1/metrics"))

    error = asyncio.run(scenario())
    assert error.startswith("the collector did not take the metrics reader:") and "invalid keys" in error
    assert readers(supervisor.configs.tried)[-1]["periodic"]["exporter"]["otlp"]["endpoint"] == (
        "http://new:8000/v1/metrics"
    )
    assert supervisor.own_metrics == OWN and own_metrics.load(state.path) == OWN  # back to the previous offer
