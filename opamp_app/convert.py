"""Turn OpAMP status sub-messages into plain, JSON-able Python values, and hash them.

Plain Python (generated protobuf + stdlib only): used by opamp_app.protocol and safe to import
without Django settings. Every function is pure; dict keys are sorted where order matters so
that equal input always gives an equal (and equally hashed) value.
"""

import base64
import hashlib
import json

from opamp_app.proto import anyvalue_pb2, opamp_pb2

RemoteConfigStatuses = opamp_pb2.RemoteConfigStatuses

# RemoteConfigStatus.status -> the value stored in Gateway.remote_config_status.
REMOTE_CONFIG_STATUS_NAMES = {
    RemoteConfigStatuses.RemoteConfigStatuses_UNSET: "unset",
    RemoteConfigStatuses.RemoteConfigStatuses_APPLYING: "applying",
    RemoteConfigStatuses.RemoteConfigStatuses_APPLIED: "applied",
    RemoteConfigStatuses.RemoteConfigStatuses_FAILED: "failed",
}


def sha256_hex(data: bytes | str) -> str:
    """Lower-case hex SHA-256 of bytes, or of a string encoded as UTF-8."""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def config_hash(yaml_text: str) -> str:
    """The stable hash of a desired configuration: SHA-256 hex of its UTF-8 text.

    The same value goes to Gateway.desired_config_hash and, as raw bytes, to
    AgentRemoteConfig.config_hash; the agent echoes it back in last_remote_config_hash.
    """
    return sha256_hex(yaml_text)


def any_value(value: anyvalue_pb2.AnyValue):
    """AnyValue -> str/bool/int/float/list/dict/None. Bytes become base64 text (JSON has no bytes)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def key_values(pairs) -> dict:
    """repeated KeyValue -> {key: value}; a repeated key keeps its last value."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def agent_description(description: opamp_pb2.AgentDescription) -> dict:
    """AgentDescription -> {"identifying_attributes": {...}, "non_identifying_attributes": {...}}."""
    return {
        "identifying_attributes": key_values(description.identifying_attributes),
        "non_identifying_attributes": key_values(description.non_identifying_attributes),
    }


def description_attribute(description: dict, key: str) -> str:
    """A string attribute from a converted description, identifying ones first; '' if absent."""
    for group in ("identifying_attributes", "non_identifying_attributes"):
        value = description.get(group, {}).get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def component_health(health: opamp_pb2.ComponentHealth) -> dict:
    """ComponentHealth -> nested dict with the same field names (sub-components sorted by name)."""
    return {
        "healthy": health.healthy,
        "start_time_unix_nano": health.start_time_unix_nano,
        "last_error": health.last_error,
        "status": health.status,
        "status_time_unix_nano": health.status_time_unix_nano,
        "component_health_map": {
            name: component_health(health.component_health_map[name]) for name in sorted(health.component_health_map)
        },
        "attributes": key_values(health.attributes),
    }


def component_details(details: opamp_pb2.ComponentDetails) -> dict:
    """ComponentDetails -> {"metadata": {...}, "sub_component_map": {...}} (sorted by name)."""
    return {
        "metadata": key_values(details.metadata),
        "sub_component_map": {
            name: component_details(details.sub_component_map[name]) for name in sorted(details.sub_component_map)
        },
    }


def available_components(components: opamp_pb2.AvailableComponents) -> dict:
    """AvailableComponents -> {"hash": hex, "components": {...}}; components may be {} (hash only)."""
    return {
        "hash": components.hash.hex(),
        "components": {name: component_details(components.components[name]) for name in sorted(components.components)},
    }


def effective_config(config: opamp_pb2.EffectiveConfig) -> tuple[str, str]:
    """EffectiveConfig -> (text, sha256 hex of the text); ("", "") for an empty config map.

    A single file (whatever its name, usually "") is stored as its body text, so its hash is
    comparable with a desired config hash. Several files are stored one after the other, in
    name order, each preceded by a `# file: <name>` line. Bodies are decoded as UTF-8; bytes
    that are not UTF-8 become U+FFFD (configs are text; nothing here executes them).
    """
    files = config.config_map.config_map
    if not files:
        return "", ""
    if len(files) == 1:
        text = _body_text(next(iter(files.values())).body)
    else:
        parts = [f"# file: {name}\n{_body_text(files[name].body)}" for name in sorted(files)]
        text = "\n".join(parts)
    return text, sha256_hex(text)


def _body_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def stable_json_hash(value) -> str:
    """SHA-256 hex of a JSON-able value serialised with sorted keys (for offers and comparisons)."""
    return sha256_hex(json.dumps(value, sort_keys=True, separators=(",", ":")))
