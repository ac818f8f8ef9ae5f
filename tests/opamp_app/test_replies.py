"""Stand-alone replies (errors, restart), capability names, and the core's independence from Django."""

import subprocess
import sys
from pathlib import Path

import pytest

from opamp_core import framing, messages, protocol
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import field_names

UID = bytes(range(16))
REPO = Path(__file__).resolve().parents[2]


def as_received(reply):
    return framing.decode(framing.encode(reply), opamp_pb2.ServerToAgent)


def test_every_reply_carries_the_server_capabilities():
    reply = protocol.process(opamp_pb2.AgentToServer(instance_uid=UID, capabilities=1), protocol.GatewayState()).reply
    names = messages.capability_names(as_received(reply).capabilities, messages.SERVER_CAPABILITY_NAMES)
    assert names == ["AcceptsStatus", "OffersRemoteConfig", "AcceptsEffectiveConfig", "OffersConnectionSettings"]


def test_unavailable_tells_the_agent_when_to_retry():
    reply = as_received(messages.unavailable(UID, retry_after_seconds=30))
    assert reply.error_response.type == opamp_pb2.ServerErrorResponseType_Unavailable
    assert reply.error_response.retry_info.retry_after_nanoseconds == 30_000_000_000


def test_unavailable_without_delay_leaves_the_backoff_to_the_agent():
    reply = as_received(messages.unavailable(UID))
    assert reply.HasField("error_response") and not reply.error_response.HasField("retry_info")


def test_bad_request_carries_the_reason_and_nothing_else():
    reply = as_received(messages.bad_request(UID, "instance_uid must be 16 bytes"))
    assert reply.error_response.error_message == "instance_uid must be 16 bytes"
    assert field_names(reply) == {"instance_uid", "error_response"}


def test_a_restart_command_goes_alone_with_uid_and_capabilities():
    reply = as_received(messages.restart_command(UID))
    assert reply.HasField("command") and reply.command.type == opamp_pb2.CommandType_Restart
    assert field_names(reply) == {"instance_uid", "capabilities", "command"}


def test_only_agents_with_the_capability_can_restart():
    assert messages.can_restart(opamp_pb2.AgentCapabilities_AcceptsRestartCommand | 1)
    assert not messages.can_restart(1)


def test_the_capability_table_lists_every_named_agent_bit():
    table = messages.capability_table(0x2003)
    assert len(table) == 16
    assert table[:3] == [("ReportsStatus", True), ("AcceptsRemoteConfig", True), ("ReportsEffectiveConfig", False)]
    assert ("ReportsHeartbeat", True) in table


@pytest.mark.process
def test_the_protocol_core_imports_without_django():
    code = (
        "import sys; import opamp_core.protocol, opamp_core.framing, opamp_core.messages, opamp_core.proto.opamp_pb2; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'channels')], 'django imported'"
    )
    # Run in a fresh interpreter: this test process has Django loaded by pytest-django.
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env={"PATH": ""})
