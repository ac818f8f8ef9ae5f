"""The OpAMP client's reactions to server messages and its settings (no network)."""

import asyncio

import pytest

from gateway import config
from gateway.opamp_client import STATUS_PARTS, OpAMPClient, Refused, Unavailable, UpgradeRefused, _status_error
from opamp_core.proto import opamp_pb2


class FakeAgent:
    capabilities = 1

    def __init__(self):
        self.restarts = 0

    def agent_description(self):
        return opamp_pb2.AgentDescription()

    def health(self):
        return opamp_pb2.ComponentHealth(healthy=True)

    def effective_config(self):
        return None

    def remote_config_status(self):
        return None

    def available_components(self, full):
        return opamp_pb2.AvailableComponents(hash=b"h")

    async def on_restart(self):
        self.restarts += 1


def client():
    new = OpAMPClient(FakeAgent(), instance_uid=b"\x01" * 16, token="t", ws_url="ws://x")
    new.next_message()  # the first status report is out
    return new


def handle(opamp_client, reply):
    async def run():
        await opamp_client.handle(reply)
        # The agent callbacks it spawned run to their end.
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))

    asyncio.run(run())


def test_sequence_numbers_increase_by_one_per_message():
    c = client()
    assert [c.next_message().sequence_num for _ in range(3)] == [2, 3, 4]


def test_report_full_state_resends_every_status_part():
    c = client()
    handle(c, opamp_pb2.ServerToAgent(flags=opamp_pb2.ServerToAgentFlags_ReportFullState))
    assert c.dirty == set(STATUS_PARTS)


def test_a_reply_with_nothing_new_triggers_no_message():
    c = client()
    handle(c, opamp_pb2.ServerToAgent(instance_uid=c.uid))
    assert not c.dirty


def test_an_offer_without_endpoint_keeps_the_connection_and_adopts_the_interval():
    c = client()
    reply = opamp_pb2.ServerToAgent()
    reply.connection_settings.hash = b"offer"
    reply.connection_settings.opamp.heartbeat_interval_seconds = 7
    handle(c, reply)
    assert c.heartbeat == 7 and c.ws_url == "ws://x"
    message = c.next_message()
    assert message.connection_settings_status.last_connection_settings_hash == b"offer"


def test_unavailable_ends_the_connection_with_the_servers_retry_after():
    c = client()
    reply = opamp_pb2.ServerToAgent()
    reply.error_response.type = opamp_pb2.ServerErrorResponseType_Unavailable
    reply.error_response.retry_info.retry_after_nanoseconds = 30 * 10**9
    with pytest.raises(Unavailable) as error:
        handle(c, reply)
    assert error.value.retry_after == 30


def test_the_restart_command_reaches_the_agent():
    c = client()
    reply = opamp_pb2.ServerToAgent()
    reply.command.SetInParent()
    reply.command.type = opamp_pb2.CommandType_Restart
    handle(c, reply)
    assert c.agent.restarts == 1


def test_the_stop_message_carries_agent_disconnect():
    assert client().next_message(disconnect=True).HasField("agent_disconnect")


def test_flags_win_over_environment_which_wins_over_the_file(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("portal_url: http://from-file\nname: file-name\nstate_dir: /from/file\n")
    environ = {"FLOWGATE_CONFIG_FILE": str(path), "FLOWGATE_NAME": "env-name", "FLOWGATE_COLLECTOR": "/bin/true"}
    settings = config.load(["--name", "flag-name"], environ)
    assert (settings.name, settings.portal_url, settings.state_dir) == ("flag-name", "http://from-file", "/from/file")
    assert config.load([], environ).name == "env-name"


def test_a_secret_may_come_from_a_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("reg-token\n")
    environ = {"FLOWGATE_REGISTRATION_TOKEN_FILE": str(secret), "FLOWGATE_COLLECTOR": "/bin/true"}
    assert config.load([], environ).registration_token == "reg-token"


def test_unknown_file_settings_and_bad_values_are_refused_by_name(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("portal: http://x\n")
    with pytest.raises(config.SettingsError, match="unknown settings.*portal"):
        config.load(["--config-file", str(path)], {})
    with pytest.raises(config.SettingsError, match="heartbeat_interval must be a number"):
        config.load([], {"FLOWGATE_HEARTBEAT_INTERVAL": "often", "FLOWGATE_COLLECTOR": "/bin/true"})


def test_auto_switches_to_http_polling_when_the_server_refuses_the_websocket_upgrade():
    c = OpAMPClient(
        FakeAgent(), instance_uid=b"\x01" * 16, token="t", ws_url="ws://x", http_url="http://x", transport="auto"
    )
    assert c.transport == "websocket"
    assert c._upgrade_refused(_status_error(404, None)) == 0
    assert c.transport == "http"


@pytest.mark.parametrize(
    "status, error_type, retry_after",
    [(401, Refused, None), (503, Unavailable, 12.0), (429, Unavailable, 12.0), (426, UpgradeRefused, None)],
)
def test_handshake_statuses_map_to_what_the_client_does(status, error_type, retry_after):
    error = _status_error(status, "12")
    assert isinstance(error, error_type)
    assert getattr(error, "retry_after", None) == retry_after
