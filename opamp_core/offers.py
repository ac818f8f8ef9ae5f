"""The ConnectionSettingsOffers the server makes to an agent, and their hash (spec: Connection Settings Management).

Plain Python (generated protobuf + stdlib), like the rest of opamp_core. One builder for every part
of the offer, each part given only to agents whose capabilities allow it (the spec):

- `opamp.heartbeat_interval_seconds`: agents with ReportsHeartbeat (the organization's interval);
- `opamp.headers`: agents with AcceptsOpAMPConnectionSettings, when the server has headers for
  them (token rotation: the `Authorization` header of the gateway's new OpAMP token);
- `opamp.destination_endpoint`: in every `opamp` part, whoever it goes to. The spec says the field
  MUST be a non-empty WebSocket or HTTP URL, and real clients (opamp-go, the contrib supervisor)
  refuse settings without it. It is the address the agent reaches the server through, given by
  the transport (core_app/agent_urls.py: FLOWGATE_OPAMP_PUBLIC_URL, else the agent's own
  connection), so an agent that compares it with its current one finds nothing to change.

A part is added by giving `describe()` its value and `fill()` its message field (own_metrics for
agents with ReportsOwnMetrics is the next one planned). The description is a plain JSON-able dict;
its hash (`ConnectionSettingsOffers.hash`) covers every part, so a change of any part is a new
offer, and an agent reporting this hash in ConnectionSettingsStatus holds all of it.

The endpoint varies per connection (Host header, TLS), so it is part of the cache key like the
other values; the cache holds one entry per distinct offer, not per agent.
"""

import functools

from opamp_core import convert
from opamp_core.proto import opamp_pb2

Caps = opamp_pb2.AgentCapabilities
REPORTS_HEARTBEAT = Caps.AgentCapabilities_ReportsHeartbeat
ACCEPTS_OPAMP_SETTINGS = Caps.AgentCapabilities_AcceptsOpAMPConnectionSettings
REPORTS_SETTINGS_STATUS = Caps.AgentCapabilities_ReportsConnectionSettingsStatus
# Only these bits change what is offered: the cache below is keyed on them, not on the whole mask.
OFFER_BITS = REPORTS_HEARTBEAT | ACCEPTS_OPAMP_SETTINGS

STATUS_NAMES = {
    opamp_pb2.ConnectionSettingsStatuses_UNSET: "unset",
    opamp_pb2.ConnectionSettingsStatuses_APPLYING: "applying",
    opamp_pb2.ConnectionSettingsStatuses_APPLIED: "applied",
    opamp_pb2.ConnectionSettingsStatuses_FAILED: "failed",
}


def accepts_opamp_settings(capabilities: int) -> bool:
    """Whether an agent takes OpAMP connection settings (a new token) from the server."""
    return bool(capabilities & ACCEPTS_OPAMP_SETTINGS)


def bearer_headers(token: str) -> tuple[tuple[str, str], ...]:
    """The OpAMP headers that carry `token` (what the agent sends on every connection)."""
    return (("Authorization", f"Bearer {token}"),)


def offer(
    capabilities: int, heartbeat_interval_seconds: int, opamp_headers=(), opamp_endpoint: str = ""
) -> tuple[bytes, dict] | None:
    """(hash, description) of what to offer an agent with these capabilities; None: nothing to offer.

    `opamp_endpoint` is the agent's OpAMP URL (destination_endpoint), set in every `opamp` part;
    transports always pass it (empty only where no transport exists, e.g. unit tests of the core).
    Called for every message of every agent: cached on the values that matter.
    """
    return _offer(capabilities & OFFER_BITS, heartbeat_interval_seconds, tuple(opamp_headers), opamp_endpoint)


@functools.lru_cache(maxsize=1024)
def _offer(
    bits: int, heartbeat_interval_seconds: int, opamp_headers: tuple, opamp_endpoint: str
) -> tuple[bytes, dict] | None:
    opamp = {}
    if bits & REPORTS_HEARTBEAT:
        opamp["heartbeat_interval_seconds"] = heartbeat_interval_seconds
    if bits & ACCEPTS_OPAMP_SETTINGS and opamp_headers:
        opamp["headers"] = [[key, value] for key, value in opamp_headers]
    if not opamp:
        return None
    if opamp_endpoint:
        opamp["destination_endpoint"] = opamp_endpoint
    description = {"opamp": opamp}
    return bytes.fromhex(convert.stable_json_hash(description)), description


def fill(offers: opamp_pb2.ConnectionSettingsOffers, offer_hash: bytes, description: dict) -> None:
    """Write an offer made by offer() into a ServerToAgent's connection_settings."""
    offers.hash = offer_hash
    opamp = description.get("opamp")
    if opamp is None:
        return
    settings = offers.opamp
    settings.SetInParent()
    if "destination_endpoint" in opamp:
        settings.destination_endpoint = opamp["destination_endpoint"]
    if "heartbeat_interval_seconds" in opamp:
        settings.heartbeat_interval_seconds = opamp["heartbeat_interval_seconds"]
    for key, value in opamp.get("headers", ()):
        settings.headers.headers.add(key=key, value=value)
