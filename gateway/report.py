"""Build the OpAMP status sub-messages the supervisor reports (pure functions over plain data)."""

import hashlib
import json
import platform
import time

from gateway import __version__
from opamp_core.proto import anyvalue_pb2, opamp_pb2

Caps = opamp_pb2.AgentCapabilities

# What the supervisor does in supervisor mode.
SUPERVISOR_CAPABILITIES = (
    Caps.AgentCapabilities_ReportsStatus
    | Caps.AgentCapabilities_AcceptsRemoteConfig
    | Caps.AgentCapabilities_ReportsEffectiveConfig
    | Caps.AgentCapabilities_ReportsRemoteConfig
    | Caps.AgentCapabilities_ReportsHealth
    | Caps.AgentCapabilities_ReportsHeartbeat
    | Caps.AgentCapabilities_AcceptsRestartCommand
    | Caps.AgentCapabilities_ReportsAvailableComponents
    | Caps.AgentCapabilities_ReportsOwnMetrics  # the collector pushes them where the portal says (own_metrics.py)
)

REMOTE_STATUSES = {
    "unset": opamp_pb2.RemoteConfigStatuses_UNSET,
    "applying": opamp_pb2.RemoteConfigStatuses_APPLYING,
    "applied": opamp_pb2.RemoteConfigStatuses_APPLIED,
    "failed": opamp_pb2.RemoteConfigStatuses_FAILED,
}


def key_value(key: str, value) -> anyvalue_pb2.KeyValue:
    if isinstance(value, bool):
        any_value = anyvalue_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        any_value = anyvalue_pb2.AnyValue(int_value=value)
    else:
        any_value = anyvalue_pb2.AnyValue(string_value=str(value))
    return anyvalue_pb2.KeyValue(key=key, value=any_value)


def agent_description(
    *, service_name, service_version, instance_uid_text, hostname, mode
) -> opamp_pb2.AgentDescription:
    """service.* identify the agent (the collector build); host and OS describe where it runs."""
    identifying = {
        "service.name": service_name,
        "service.version": service_version,
        "service.instance.id": instance_uid_text,
    }
    non_identifying = {
        "host.name": hostname,
        "os.type": platform.system().lower(),
        "os.description": platform.platform(),
        "host.arch": platform.machine(),
        "flowgate.gateway.mode": mode,
        "flowgate.supervisor.version": __version__,
    }
    return opamp_pb2.AgentDescription(
        identifying_attributes=[key_value(k, v) for k, v in identifying.items() if v],
        non_identifying_attributes=[key_value(k, v) for k, v in non_identifying.items() if v],
    )


def components_hash(kinds: dict) -> bytes:
    """SHA-256 of the component list: equal for every build with the same components."""
    return hashlib.sha256(json.dumps(kinds, sort_keys=True).encode()).digest()


def available_components(kinds: dict, *, full: bool) -> opamp_pb2.AvailableComponents:
    """The hash alone, or (full) every component by kind with its Go module as code.namespace."""
    message = opamp_pb2.AvailableComponents(hash=components_hash(kinds))
    if not full:
        return message
    for kind, components in kinds.items():
        details = message.components[kind]
        for name, module in sorted(components.items()):
            entry = details.sub_component_map[name]
            entry.SetInParent()
            if module:
                entry.metadata.append(key_value("code.namespace", module.replace(" ", "@", 1)))
    return message


def effective_config(text: str) -> opamp_pb2.EffectiveConfig:
    """The running config file as the single file "" (an empty map when nothing runs)."""
    message = opamp_pb2.EffectiveConfig()
    message.config_map.SetInParent()
    if text:
        config_file = message.config_map.config_map[""]
        config_file.body = text.encode()
        config_file.content_type = "text/yaml"
    return message


def remote_config_status(hash_hex: str, status: str, error: str) -> opamp_pb2.RemoteConfigStatus:
    return opamp_pb2.RemoteConfigStatus(
        last_remote_config_hash=bytes.fromhex(hash_hex) if hash_hex else b"",
        status=REMOTE_STATUSES.get(status, opamp_pb2.RemoteConfigStatuses_UNSET),
        error_message=error,
    )


def component_health(*, healthy, status, last_error="", start_time_ns=0, attributes=None, components=None):
    """A ComponentHealth; `components` maps names to ComponentHealth sub-messages."""
    message = opamp_pb2.ComponentHealth(
        healthy=healthy,
        status=status,
        last_error=last_error,
        start_time_unix_nano=start_time_ns,
        status_time_unix_nano=time.time_ns(),
        attributes=[key_value(k, v) for k, v in (attributes or {}).items()],
    )
    for name, sub in (components or {}).items():
        message.component_health_map[name].CopyFrom(sub)
    return message
