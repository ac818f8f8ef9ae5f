"""Turn OpAMP status sub-messages into plain, JSON-able Python values, and hash them.

Plain Python (generated protobuf + stdlib only): used by opamp_core.protocol and safe to import
without Django settings. Every function is pure; dict keys are sorted where order matters so
that equal input always gives an equal (and equally hashed) value.

Every value that comes out can be stored, on any database: a valid report must never be
refused by the database (it would be answered "retry later" forever). So text has no NUL
character (PostgreSQL refuses it in text and jsonb; it becomes NUL_MARK), numbers are finite
(jsonb has no NaN or Infinity; they become the strings "NaN", "Infinity", "-Infinity"), and
what a report may carry is bounded (`Limits`, docs/security.md "OpAMP report bounds"; the
trees and lists are checked on the bytes before parsing, by opamp_core.bounds; the effective
config is cut here, with a comment saying so). Column lengths are the caller's (clip()).
"""

import base64
import hashlib
import json
import math
from dataclasses import dataclass

from opamp_core.proto import anyvalue_pb2, opamp_pb2

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


# What a NUL character becomes in stored text (U+2400 SYMBOL FOR NULL: visible, unambiguous).
NUL_MARK = "\u2400"
# The end of a value cut to fit (U+2026 HORIZONTAL ELLIPSIS).
TRUNCATED = "\u2026"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one report may carry; the transports fill them from the FLOWGATE_OPAMP_MAX_* settings.

    Checked on the report's bytes by opamp_core.bounds (all but the last), cut here (the last):
    attributes: values in one attribute list, those nested in arrays and lists included
      (agent description, a health component's attributes, a component's metadata);
    health_components: components of a health tree, its root aside; health_depth: its levels;
    available_components: components and sub-components of an AvailableComponents;
    messages: sub-messages of any kind in one report (map entries included);
    effective_config_bytes: UTF-8 bytes of a stored effective config.
    """

    attributes: int = 100
    health_components: int = 2000
    health_depth: int = 8
    available_components: int = 2000
    messages: int = 20000
    effective_config_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


def text(value: str) -> str:
    """`value` as every database can store it: NUL characters become NUL_MARK (same length)."""
    if "\x00" in value:
        return value.replace("\x00", NUL_MARK)
    return value


def clip(value: str, max_chars: int) -> str:
    """text(value) in at most `max_chars` characters; a value cut to fit ends with TRUNCATED."""
    value = text(value)
    if len(value) <= max_chars:
        return value
    return value[: max_chars - len(TRUNCATED)] + TRUNCATED


def number(value: float):
    """A double as JSON can hold it: NaN and the infinities become strings (jsonb refuses them)."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def any_value(value: anyvalue_pb2.AnyValue):
    """AnyValue -> str/bool/int/float/list/dict/None. Bytes become base64 text (JSON has no bytes)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return text(value.string_value)
    if kind == "double_value":
        return number(value.double_value)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def key_values(pairs) -> dict:
    """repeated KeyValue -> {key: value}; a repeated key keeps its last value."""
    return {text(pair.key): any_value(pair.value) for pair in pairs}


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
        "last_error": text(health.last_error),
        "status": text(health.status),
        "status_time_unix_nano": health.status_time_unix_nano,
        "component_health_map": {
            text(name): component_health(health.component_health_map[name])
            for name in sorted(health.component_health_map)
        },
        "attributes": key_values(health.attributes),
    }


def component_details(details: opamp_pb2.ComponentDetails) -> dict:
    """ComponentDetails -> {"metadata": {...}, "sub_component_map": {...}} (sorted by name)."""
    return {
        "metadata": key_values(details.metadata),
        "sub_component_map": {
            text(name): component_details(details.sub_component_map[name]) for name in sorted(details.sub_component_map)
        },
    }


def available_components(components: opamp_pb2.AvailableComponents) -> dict:
    """AvailableComponents -> {"hash": hex, "components": {...}}; components may be {} (hash only)."""
    return {
        "hash": components.hash.hex(),
        "components": {
            text(name): component_details(components.components[name]) for name in sorted(components.components)
        },
    }


def effective_config(config: opamp_pb2.EffectiveConfig, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str]:
    """EffectiveConfig -> (text, sha256 hex of the text); ("", "") for an empty config map.

    A single file (whatever its name, usually "") is stored as its body text, so its hash is
    comparable with a desired config hash. Several files are stored one after the other, in
    name order, each preceded by a `# file: <name>` line. Bodies are decoded as UTF-8; bytes
    that are not UTF-8 become U+FFFD (configs are text; nothing here executes them). The hash
    is of the whole text as reported; the stored text has no NUL and is cut at
    limits.effective_config_bytes (whole lines, then a comment saying so).
    """
    files = config.config_map.config_map
    if not files:
        return "", ""
    if len(files) == 1:
        full = _body_text(next(iter(files.values())).body)
    else:
        parts = [f"# file: {name}\n{_body_text(files[name].body)}" for name in sorted(files)]
        full = "\n".join(parts)
    return _cut_config(text(full), limits.effective_config_bytes), sha256_hex(full)


def _body_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _cut_config(config: str, max_bytes: int) -> str:
    if len(config) <= max_bytes // 4:  # at most 4 bytes a character: surely within, no encoding
        return config
    data = config.encode()
    if len(data) <= max_bytes:
        return config
    kept = data[:max_bytes].decode("utf-8", errors="ignore")
    kept = kept[: kept.rfind("\n") + 1] or kept
    return (
        f"{kept}# {TRUNCATED} FlowGate stored the first {len(kept.encode())} of {len(data)} bytes of this"
        f" effective config: over the limit of {max_bytes} (FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES)\n"
    )


def stable_json_hash(value) -> str:
    """SHA-256 hex of a JSON-able value serialised with sorted keys (for offers and comparisons)."""
    return sha256_hex(json.dumps(value, sort_keys=True, separators=(",", ":")))
