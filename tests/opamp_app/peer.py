"""A fake OpAMP agent and server loop for protocol tests: messages really go through bytes."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from opamp_core import framing, protocol
from opamp_core.proto import anyvalue_pb2, opamp_pb2

Caps = opamp_pb2.AgentCapabilities
BASE_CAPS = Caps.AgentCapabilities_ReportsStatus | Caps.AgentCapabilities_ReportsEffectiveConfig
CONFIG_CAPS = BASE_CAPS | Caps.AgentCapabilities_AcceptsRemoteConfig | Caps.AgentCapabilities_ReportsRemoteConfig
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
YAML = "receivers:\n  otlp: {}\n"


class Agent:
    """Builds AgentToServer messages with a growing sequence_num, like an OpAMP client."""

    def __init__(self, uid=None, capabilities=BASE_CAPS, sequence_num=1):
        self.uid = uuid.uuid4().bytes if uid is None else uid
        self.capabilities = capabilities
        self.sequence_num = sequence_num

    def message(self, **fields):
        fields.setdefault("instance_uid", self.uid)
        fields.setdefault("capabilities", self.capabilities)
        message = opamp_pb2.AgentToServer(sequence_num=self.sequence_num, **fields)
        self.sequence_num += 1
        return message


class Server:
    """Holds what the caller holds (the row as GatewayState, and the Session) and applies changes."""

    def __init__(self, state=None):
        self.state = state or protocol.GatewayState(last_seen=NOW)
        self.session = protocol.Session()

    def receive(self, message, now=NOW):
        """Send `message` over the wire, process it, persist the changes; the reply as decoded by the agent."""
        decoded = framing.decode(framing.encode(message))
        result = protocol.process(decoded, self.state, self.session, now=now)
        self.session = result.session
        self.state = apply(self.state, result.changes)
        result.reply = framing.decode(framing.encode(result.reply), opamp_pb2.ServerToAgent)
        return result


def apply(state, changes):
    """What the caller's single UPDATE does to the row."""
    values = dict(changes)
    if "instance_uid" in values:
        values["instance_uid"] = values["instance_uid"].bytes
    return replace(state, **values)


def kv(key, value):
    pair = anyvalue_pb2.KeyValue(key=key)
    pair.value.string_value = value
    return pair


def description(name="otelcol-contrib", version="0.120.0", host="gw-1"):
    return opamp_pb2.AgentDescription(
        identifying_attributes=[kv("service.name", name), kv("service.version", version)],
        non_identifying_attributes=[kv("host.name", host)],
    )


def effective_config(body=YAML):
    config = opamp_pb2.EffectiveConfig()
    config.config_map.config_map[""].body = body.encode()
    return config


def remote_status(hash_hex, status, error=""):
    return opamp_pb2.RemoteConfigStatus(
        last_remote_config_hash=bytes.fromhex(hash_hex), status=status, error_message=error
    )


def field_names(message):
    return {descriptor.name for descriptor, _ in message.ListFields()}
