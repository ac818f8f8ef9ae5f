"""The protocol core speaks in Gateway model field names (checked without a database)."""

import uuid

from gateways_app.models import Gateway
from opamp_core import protocol
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import Agent, Server, description, effective_config, remote_status

MODEL_FIELDS = {model_field.name for model_field in Gateway._meta.get_fields()}


def test_state_is_read_from_a_gateway_row():
    gateway = Gateway(instance_uid=uuid.uuid4(), capabilities=7, effective_config="a: 1\n", status="online")
    state = protocol.GatewayState.from_gateway(gateway, heartbeat_interval_seconds=15)
    assert state.instance_uid == gateway.instance_uid.bytes
    assert (state.capabilities, state.effective_config, state.status) == (7, "a: 1\n", "online")
    assert state.heartbeat_interval_seconds == 15


def test_every_change_names_a_gateway_field():
    message = Agent().message(
        agent_description=description(),
        health=opamp_pb2.ComponentHealth(healthy=False),
        effective_config=effective_config(),
        remote_config_status=remote_status("ab" * 32, opamp_pb2.RemoteConfigStatuses_FAILED, "x"),
        available_components=opamp_pb2.AvailableComponents(hash=b"\x01"),
        connection_settings_status=opamp_pb2.ConnectionSettingsStatus(
            last_connection_settings_hash=b"\x02", status=opamp_pb2.ConnectionSettingsStatuses_FAILED, error_message="y"
        ),
    )
    changes = Server(protocol.GatewayState()).receive(message).changes
    # Everything the agent can report, plus the uid it brought; desired_* belong to deployments.
    assert set(changes) == set(protocol.STORED_FIELDS) - {"desired_config", "desired_config_hash"} | {"instance_uid"}
    assert set(changes) <= MODEL_FIELDS
