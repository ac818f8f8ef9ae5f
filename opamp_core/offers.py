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
  connection), so an agent that compares it with its current one finds nothing to change;
- `own_metrics`: agents with ReportsOwnMetrics, when the server has a destination for them: the
  portal's OTLP/HTTP metrics endpoint as the agent reaches it and the gateway's telemetry credential
  (`Authorization`), plus METRICS_INTERVAL_HEADER, the organization's reporting interval (the
  message has no field for it; an agent that does not know the header sends it along, harmless).

A part is added by giving `_offer()` its value and `fill()` its message field. The description is a
plain JSON-able dict; its hash (`ConnectionSettingsOffers.hash`) covers every part, so a change of any part is a new
offer, and an agent reporting this hash in ConnectionSettingsStatus holds all of it.

The endpoints vary per connection (Host header, TLS), so they are part of the cache key like the
other values; the cache holds one entry per distinct offer: per gateway once own_metrics (its
credential) is in it.
"""

import functools

from opamp_core import convert
from opamp_core.proto import opamp_pb2

Caps = opamp_pb2.AgentCapabilities
REPORTS_HEARTBEAT = Caps.AgentCapabilities_ReportsHeartbeat
ACCEPTS_OPAMP_SETTINGS = Caps.AgentCapabilities_AcceptsOpAMPConnectionSettings
REPORTS_SETTINGS_STATUS = Caps.AgentCapabilities_ReportsConnectionSettingsStatus
REPORTS_OWN_METRICS = Caps.AgentCapabilities_ReportsOwnMetrics
# Only these bits change what is offered: the cache below is keyed on them, not on the whole mask.
OFFER_BITS = REPORTS_HEARTBEAT | ACCEPTS_OPAMP_SETTINGS | REPORTS_OWN_METRICS
# The own_metrics header that carries the reporting interval in seconds (TelemetryConnectionSettings has no
# field for it). The FlowGate supervisor takes it as its metrics reader's interval and does not send it.
METRICS_INTERVAL_HEADER = "FlowGate-Metrics-Interval-Seconds"

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


def own_metrics_destination(endpoint: str, authorization: str, interval_seconds: int) -> tuple:
    """The `own_metrics` value for offer(): (endpoint, ((header, value), ...)); () when there is no endpoint."""
    if not endpoint:
        return ()
    headers = (("Authorization", authorization),) if authorization else ()
    return (endpoint, (*headers, (METRICS_INTERVAL_HEADER, str(int(interval_seconds)))))


def offer(
    capabilities: int, heartbeat_interval_seconds: int, opamp_headers=(), opamp_endpoint: str = "", own_metrics=()
) -> tuple[bytes, dict] | None:
    """(hash, description) of what to offer an agent with these capabilities; None: nothing to offer.

    `opamp_endpoint` is the agent's OpAMP URL (destination_endpoint), set in every `opamp` part;
    transports always pass it (empty only where no transport exists, e.g. unit tests of the core).
    `own_metrics` is own_metrics_destination()'s value for the agent's gateway, or () for none.
    Called for every message of every agent: cached on the values that matter.
    """
    bits = capabilities & OFFER_BITS
    return _offer(bits, heartbeat_interval_seconds, tuple(opamp_headers), opamp_endpoint, tuple(own_metrics))


# With own_metrics the offer differs per gateway (its credential): the cache holds an entry per connected
# gateway of the process, so it is sized for a full server process (an entry is a few hundred bytes).
@functools.lru_cache(maxsize=16384)
def _offer(
    bits: int, heartbeat_interval_seconds: int, opamp_headers: tuple, opamp_endpoint: str, own_metrics: tuple
) -> tuple[bytes, dict] | None:
    opamp = {}
    if bits & REPORTS_HEARTBEAT:
        opamp["heartbeat_interval_seconds"] = heartbeat_interval_seconds
    if bits & ACCEPTS_OPAMP_SETTINGS and opamp_headers:
        opamp["headers"] = [[key, value] for key, value in opamp_headers]
    description = {}
    if opamp:
        if opamp_endpoint:
            opamp["destination_endpoint"] = opamp_endpoint
        description["opamp"] = opamp
    if bits & REPORTS_OWN_METRICS and own_metrics:
        endpoint, headers = own_metrics
        description["own_metrics"] = {
            "destination_endpoint": endpoint,
            "headers": [[key, value] for key, value in headers],
        }
    if not description:
        return None
    return bytes.fromhex(convert.stable_json_hash(description)), description


def fill(offers: opamp_pb2.ConnectionSettingsOffers, offer_hash: bytes, description: dict) -> None:
    """Write an offer made by offer() into a ServerToAgent's connection_settings."""
    offers.hash = offer_hash
    own_metrics = description.get("own_metrics")
    if own_metrics is not None:
        telemetry = offers.own_metrics
        telemetry.destination_endpoint = own_metrics["destination_endpoint"]
        for key, value in own_metrics["headers"]:
            telemetry.headers.headers.add(key=key, value=value)
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
