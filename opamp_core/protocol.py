"""The OpAMP server's protocol core: one AgentToServer in, one ServerToAgent and the changes out.

Plain Python (generated protobuf + stdlib): no Django, no Channels, no HTTP objects, no I/O.
Transports (the WebSocket consumer, the plain-HTTP view) do the rest:

    state = GatewayState.from_gateway(gateway, heartbeat_interval_seconds=...)   # one row read
    result = process(message, state, session, now=now)
    session = result.session            # per-connection memory, never written to the DB
    if result.claims_new_uid:            # first uid of this gateway: check no other gateway has it
        ...                              # else reassign_instance_uid(result, new_instance_uid())
    if result.changes:                   # ONE write, only when something changed
        Gateway.objects.filter(pk=...).update(**result.changes)
    send(result.reply)

Two kinds of state are kept apart on purpose:

- GatewayState mirrors the Gateway row (what pages show). `Result.changes` names the Gateway
  fields that differ after this message and nothing else, so a quiet heartbeat costs no write.
- Session is what one connection remembers between messages: the last sequence_num, what was
  offered or sent on this connection. It changes on every message, so it lives in the consumer
  (WebSocket) or in the cache keyed by gateway (HTTP) — never in the database.
"""

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opamp_core import convert, health_errors, offers
from opamp_core.messages import bad_request, base_reply
from opamp_core.proto import opamp_pb2

Caps = opamp_pb2.AgentCapabilities

UID_BYTES = 16
DEFAULT_HEARTBEAT_SECONDS = 30
# last_seen is written with other changes, or alone at most this often (no write per heartbeat).
LAST_SEEN_REFRESH = timedelta(minutes=5)
# Messages numbered like or after an AgentDisconnect and received this soon after it are stragglers.
GOODBYE_GRACE = timedelta(seconds=5)
ONLINE, OFFLINE, DEGRADED = "online", "offline", "degraded"  # Gateway.status values

REPORT_FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
REPORT_AVAILABLE_COMPONENTS = opamp_pb2.ServerToAgentFlags_ReportAvailableComponents
REQUEST_INSTANCE_UID = opamp_pb2.AgentToServerFlags_RequestInstanceUid
# Capability bits as plain ints: reading them through the generated enum wrapper costs a
# Python-level lookup each time, on every message.
ACCEPTS_REMOTE_CONFIG = Caps.AgentCapabilities_AcceptsRemoteConfig
REPORTS_HEARTBEAT = Caps.AgentCapabilities_ReportsHeartbeat


# Gateway model fields mirrored by GatewayState (instance_uid aside: bytes here, UUID in the row).
STORED_FIELDS = (
    "status",
    "last_seen",
    "hostname",
    "agent_type",
    "agent_version",
    "capabilities",
    "agent_description",
    "health",
    "effective_config",
    "effective_config_hash",
    "remote_config_status",
    "remote_config_hash",
    "remote_config_error",
    "available_components",
    "desired_config",
    "desired_config_hash",
    "connection_settings_status",
    "connection_settings_hash",
    "connection_settings_error",
    "health_errors",
)


@dataclass
class GatewayState:
    """What the server has stored about one gateway: a plain copy of the Gateway row.

    instance_uid is the 16 raw bytes (a uuid.UUID is accepted and converted), None while the
    gateway has not connected yet. desired_config_hash must be convert.config_hash(desired_config);
    a config is only ever sent when both are non-empty. heartbeat_interval_seconds,
    opamp_headers, opamp_endpoint and own_metrics are not columns: the caller passes the interval it
    wants the agent to use (a setting), the OpAMP headers to offer it (a new token being rotated in;
    opamp_core.offers), the OpAMP URL the agent reaches the server through (the transport
    computes it from its connection: core_app/agent_urls.py) and where the agent sends its own
    metrics (offers.own_metrics_destination(): endpoint, credential, interval; opamp_app/own_metrics.py).
    """

    instance_uid: bytes | None = None
    status: str = OFFLINE
    last_seen: datetime | None = None
    hostname: str = ""
    agent_type: str = ""
    agent_version: str = ""
    capabilities: int = 0
    agent_description: dict = field(default_factory=dict)
    health: dict = field(default_factory=dict)
    effective_config: str = ""
    effective_config_hash: str = ""
    remote_config_status: str = "unset"
    remote_config_hash: str = ""
    remote_config_error: str = ""
    available_components: dict = field(default_factory=dict)
    desired_config: str = ""
    desired_config_hash: str = ""
    health_errors: list = field(default_factory=list)  # dated errors: opamp_core/health_errors.py
    connection_settings_status: str = "unset"
    connection_settings_hash: str = ""
    connection_settings_error: str = ""
    heartbeat_interval_seconds: int = DEFAULT_HEARTBEAT_SECONDS
    opamp_headers: tuple = ()
    opamp_endpoint: str = ""
    own_metrics: tuple = ()

    def __post_init__(self):
        if isinstance(self.instance_uid, uuid.UUID):
            self.instance_uid = self.instance_uid.bytes

    @classmethod
    def from_gateway(
        cls,
        gateway,
        *,
        heartbeat_interval_seconds: int = DEFAULT_HEARTBEAT_SECONDS,
        opamp_headers=(),
        opamp_endpoint: str = "",
        own_metrics=(),
    ):
        """Copy STORED_FIELDS and instance_uid from any object that has them (a Gateway row)."""
        values = {name: getattr(gateway, name) for name in STORED_FIELDS}
        return cls(
            instance_uid=gateway.instance_uid,
            heartbeat_interval_seconds=heartbeat_interval_seconds,
            opamp_headers=tuple(opamp_headers),
            opamp_endpoint=opamp_endpoint,
            own_metrics=tuple(own_metrics),
            **values,
        )


@dataclass
class Session:
    """What one connection remembers between messages (never persisted; start with Session()).

    sequence_num: last AgentToServer.sequence_num seen; None = no previous message known,
    which makes the next reply ask for the full state. A transport may seed it from a cache to
    carry it across reconnections. The other fields record what this connection already
    offered, so that it is not repeated on every heartbeat.
    """

    sequence_num: int | None = None
    messages: int = 0
    settings_hash: bytes = b""  # ConnectionSettingsOffers.hash the agent has (offered or reported)
    config_sent_hash: str = ""  # desired config hash sent on this connection
    config_sent_against: str = ""  # the agent's reported remote_config_hash at that moment
    components_requested_hash: str = ""  # AvailableComponents hash we asked the full map for
    goodbye_seq: int | None = None  # sequence_num of the agent's AgentDisconnect, and when it came
    goodbye_at: datetime | None = None


@dataclass
class Result:
    """The outcome of process().

    reply: the ServerToAgent to send (always, even when nothing changed).
    changes: {Gateway field: new value} for fields that differ from the state; empty = no write.
      instance_uid appears as a uuid.UUID; last_seen as an aware datetime.
    session: the Session to keep for the next message of this connection.
    disconnect: the agent said goodbye (changes then hold status="offline").
    error: the reason, when the reply is a BAD_REQUEST error (changes are then empty).
    claims_new_uid: the uid this gateway takes now (it had none). The caller must make sure no
      other gateway holds it before saving; if one does, call reassign_instance_uid().
    uid_mismatch: the agent used another uid than the stored one; the reply tells it the stored
      uid (agent_identification) and asks for its full state; nothing else was processed.
    """

    reply: opamp_pb2.ServerToAgent
    changes: dict = field(default_factory=dict)
    session: Session = field(default_factory=Session)
    disconnect: bool = False
    error: str = ""
    claims_new_uid: uuid.UUID | None = None
    uid_mismatch: bool = False
    full_state_requested: bool = False
    config_sent: bool = False


def updated(value, **fields):
    """A copy of `value` (a dataclass of this module) with `fields` set, for every message.

    dataclasses.replace() without its second run of __init__ and __post_init__: a third of its
    cost (measured in docs/benchmarks.md). The only __post_init__ here turns a
    uuid.UUID instance_uid into bytes; callers pass bytes (apply_changes() converts).
    """
    copy = object.__new__(type(value))
    copy.__dict__ = {**value.__dict__, **fields}
    return copy


def apply_changes(state: GatewayState, changes: dict) -> GatewayState:
    """The state after `changes` (a Result.changes) were saved: what a transport keeps in memory."""
    if not changes:
        return state
    values = dict(changes)
    if "instance_uid" in values:
        values["instance_uid"] = values["instance_uid"].bytes
    return updated(state, **values)


def process(
    message: opamp_pb2.AgentToServer,
    state: GatewayState,
    session: Session | None = None,
    *,
    now=None,
    limits: convert.Limits = convert.DEFAULT_LIMITS,
) -> Result:
    """Decide the reply to `message` and the changes to `state`. Pure: nothing is mutated.

    Rules, in order:
    1. instance_uid must be 16 bytes, else a BAD_REQUEST reply and nothing else.
    2. A uid other than the stored one (without RequestInstanceUid) is answered with
       agent_identification.new_instance_uid = stored uid and ReportFullState; nothing recorded.
       A gateway without a uid adopts the message's uid (or, on RequestInstanceUid, a new one).
    3. Status fields present in the message replace the stored ones; absent ones (status
       compression) keep their value. capabilities == 0 counts as absent (bare HTTP polls).
       Every value is made storable (_reported_fields()); the effective config is cut at
       limits.effective_config_bytes (the other bounds are checked before parsing: bounds.py).
    4. ReportFullState when this sequence_num is not previous+1, or when the previous one is
       unknown (a new connection) and the message is not a full report (is_full_report()).
    5. Remote config, connection settings offer and component requests: see _config_to_send(),
       _settings_to_offer() and _wants_components().
    """
    now = now or datetime.now(UTC)
    session = session or Session()
    uid = bytes(message.instance_uid)
    if len(uid) != UID_BYTES:
        reason = f"instance_uid must be {UID_BYTES} bytes, got {len(uid)}"
        return Result(reply=bad_request(uid, reason), session=session, error=reason)

    requested = bool(message.flags & REQUEST_INSTANCE_UID)
    reply = base_reply(uid)
    seen = updated(session, messages=session.messages + 1)
    if state.instance_uid is not None and uid != state.instance_uid and not requested:
        reply.agent_identification.new_instance_uid = state.instance_uid
        reply.flags |= REPORT_FULL_STATE
        seen.sequence_num = None  # what follows comes under the stored uid; resync then
        return Result(reply=reply, session=seen, uid_mismatch=True, full_state_requested=True)

    changes, claims = _identity_changes(uid, requested, state, reply)
    reported = _reported_fields(message, state, limits)
    disconnect = message.HasField("agent_disconnect")
    straggler = not disconnect and _after_goodbye(message, session, now)
    reported["status"] = OFFLINE if disconnect or straggler else _live_status(reported.get("health", state.health))
    if disconnect:
        seen.goodbye_seq, seen.goodbye_at = message.sequence_num, now
    changes.update({name: value for name, value in reported.items() if getattr(state, name) != value})
    _add_error_history(changes, state, now)
    if changes or state.last_seen is None or now - state.last_seen >= LAST_SEEN_REFRESH:
        changes["last_seen"] = now

    seen.sequence_num = message.sequence_num
    result = Result(reply=reply, changes=changes, session=seen, disconnect=disconnect, claims_new_uid=claims)
    if not (disconnect or straggler):
        _add_offers(result, message, updated(state, **reported), previous=session)
    return result


def _after_goodbye(message, session: Session, now) -> bool:
    """A message the agent sent after its AgentDisconnect (numbered the same or later, within GOODBYE_GRACE).

    Clients that send from several threads let a queued heartbeat follow their goodbye, even
    with the goodbye's own number (the Python client); it must not bring the gateway back
    online. A restarted agent numbers from 0 again.
    """
    if session.goodbye_seq is None or message.sequence_num < session.goodbye_seq:
        return False
    return now - session.goodbye_at < GOODBYE_GRACE


def _identity_changes(uid: bytes, requested: bool, state: GatewayState, reply) -> tuple[dict, uuid.UUID | None]:
    """Adopt a first uid, or answer RequestInstanceUid. Returns (changes, claimed uid)."""
    if state.instance_uid is None:
        adopted = new_instance_uid() if requested else uid
        if requested:
            reply.agent_identification.new_instance_uid = adopted
        claimed = uuid.UUID(bytes=adopted)
        return {"instance_uid": claimed}, claimed
    if requested:
        reply.agent_identification.new_instance_uid = state.instance_uid
    return {}, None


# The character columns of the Gateway row that hold reported text (gateways_app.models; a
# test checks that they agree). Longer values are cut to fit, with convert.TRUNCATED at the end.
COLUMN_CHARS = {
    "hostname": 255,
    "agent_type": 100,
    "agent_version": 100,
    "remote_config_hash": 64,
    "connection_settings_hash": 64,
}


def _reported_fields(message: opamp_pb2.AgentToServer, state: GatewayState, limits: convert.Limits) -> dict:
    """The stored fields this message reports, as they will be stored. Absent = not reported.

    The one place where a report becomes row values: each is storable as it is (no NUL, fits
    its column, finite numbers; capabilities is a uint64 the column holds whole).
    """
    values = {}
    if message.capabilities:
        values["capabilities"] = message.capabilities
    if message.HasField("agent_description"):
        description = convert.agent_description(message.agent_description)
        values["agent_description"] = description
        for name, key in (("agent_type", "service.name"), ("agent_version", "service.version")):
            values[name] = convert.clip(convert.description_attribute(description, key), COLUMN_CHARS[name])
        hostname = convert.description_attribute(description, "host.name")
        values["hostname"] = convert.clip(hostname, COLUMN_CHARS["hostname"]) if hostname else state.hostname
    if message.HasField("health"):
        values["health"] = convert.component_health(message.health)
    if message.HasField("effective_config"):
        config, digest = convert.effective_config(message.effective_config, limits)
        values["effective_config"], values["effective_config_hash"] = config, digest
    if message.HasField("remote_config_status"):
        status = message.remote_config_status
        values["remote_config_status"] = convert.REMOTE_CONFIG_STATUS_NAMES.get(status.status, "unset")
        reported_hash = status.last_remote_config_hash.hex()
        values["remote_config_hash"] = convert.clip(reported_hash, COLUMN_CHARS["remote_config_hash"])
        values["remote_config_error"] = convert.text(status.error_message)
    if message.HasField("available_components"):
        values["available_components"] = _merge_components(message.available_components, state.available_components)
    if message.HasField("connection_settings_status"):
        status = message.connection_settings_status
        values["connection_settings_status"] = offers.STATUS_NAMES.get(status.status, "unset")
        reported_hash = status.last_connection_settings_hash.hex()
        values["connection_settings_hash"] = convert.clip(reported_hash, COLUMN_CHARS["connection_settings_hash"])
        values["connection_settings_error"] = convert.text(status.error_message)
    return values


def _add_error_history(changes: dict, state: GatewayState, now) -> None:
    """Date the errors of a report that changes the health or the remote config status (health_errors.py).

    Only such a report walks the health tree: a heartbeat, or a report repeating what is stored, costs nothing.
    """
    health = changes.get("health")
    remote = None
    if REMOTE_STATUS_FIELDS & changes.keys():
        remote = tuple(changes.get(name, getattr(state, name)) for name in REMOTE_STATUS_FIELDS_ORDER)
    if health is None and remote is None:
        return
    current = state.health if health is None else health
    history = health_errors.update(state.health_errors, health=health, remote=remote, now=now, current=current)
    if history is not state.health_errors:
        changes["health_errors"] = history


REMOTE_STATUS_FIELDS_ORDER = ("remote_config_status", "remote_config_hash", "remote_config_error")
REMOTE_STATUS_FIELDS = frozenset(REMOTE_STATUS_FIELDS_ORDER)


def _merge_components(reported: opamp_pb2.AvailableComponents, stored: dict) -> dict:
    """A hash-only report keeps the stored component map when the hash is unchanged."""
    components = convert.available_components(reported)
    if not components["components"] and components["hash"] == stored.get("hash"):
        return stored
    return components


def _live_status(health: dict) -> str:
    """online, or degraded when the agent reported itself unhealthy."""
    if health and not health.get("healthy", True):
        return DEGRADED
    return ONLINE


def _add_offers(result: Result, message, current: GatewayState, *, previous: Session) -> None:
    """Fill the reply's flags, remote config and settings offer; record them in result.session."""
    reply, session = result.reply, result.session
    if previous.sequence_num is None:
        in_sync = is_full_report(message)
    else:
        in_sync = message.sequence_num == previous.sequence_num + 1
    if not in_sync:
        reply.flags |= REPORT_FULL_STATE
        result.full_state_requested = True
    if _wants_components(message, current, session):
        reply.flags |= REPORT_AVAILABLE_COMPONENTS
        session.components_requested_hash = current.available_components["hash"]
    if message.HasField("connection_settings_status"):
        # The agent says which offer it holds (e.g. from a previous connection): don't repeat it.
        session.settings_hash = bytes(message.connection_settings_status.last_connection_settings_hash)
    # Resend after losing track of the agent only when this message says what it runs: a gap in
    # the agent's sequence numbers (clients that number messages from several threads) says
    # nothing about whether it received the config we just sent.
    resync = result.full_state_requested and message.HasField("remote_config_status")
    if _config_to_send(current, session, resync=resync):
        _put_remote_config(reply, current, session)
        result.config_sent = True
    _put_settings_offer(reply, current, session)


# The status parts an agent reports, by the capability that says it does (Status Reporting).
REPORTED_PARTS = (
    (Caps.AgentCapabilities_ReportsHealth, "health"),
    (Caps.AgentCapabilities_ReportsEffectiveConfig, "effective_config"),
    (Caps.AgentCapabilities_ReportsRemoteConfig, "remote_config_status"),
    (Caps.AgentCapabilities_ReportsAvailableComponents, "available_components"),
)


def is_full_report(message: opamp_pb2.AgentToServer) -> bool:
    """Whether the message carries every status part the agent's capabilities say it reports.

    Such a first message of a connection needs no ReportFullState round trip: the server
    knows all there is to know whatever came before.
    """
    if not (message.capabilities and message.HasField("agent_description")):
        return False
    return all(message.HasField(part) for bit, part in REPORTED_PARTS if message.capabilities & bit)


def _wants_components(message, current: GatewayState, session: Session) -> bool:
    """Ask once per connection for the component map of a hash we have no map for."""
    if not message.HasField("available_components"):
        return False
    stored = current.available_components
    return not stored.get("components") and stored.get("hash", "") != session.components_requested_hash


def _config_to_send(current: GatewayState, session: Session, *, resync: bool) -> bool:
    """Whether the reply carries the desired config (AgentRemoteConfig).

    Never without the agent's AcceptsRemoteConfig capability, nor when there is no desired
    config, nor when the agent already reports the desired hash (applying, applied or failed:
    resending a failed config would fail again; a new desired config has a new hash).
    Otherwise send it once per connection, and again only when the agent then reports yet
    another hash, or when we just lost sync with it (ReportFullState in this reply) and its
    message reports a hash other than the desired one.
    """
    desired = current.desired_config_hash
    if not (current.capabilities & ACCEPTS_REMOTE_CONFIG):
        return False
    if not (desired and current.desired_config) or current.remote_config_hash == desired:
        return False
    if session.config_sent_hash != desired or resync:
        return True
    return session.config_sent_against != current.remote_config_hash


def _put_remote_config(reply, current: GatewayState, session: Session) -> None:
    config_file = reply.remote_config.config.config_map[""]
    config_file.body = current.desired_config.encode()
    config_file.content_type = "text/yaml"
    reply.remote_config.config_hash = bytes.fromhex(current.desired_config_hash)
    session.config_sent_hash = current.desired_config_hash
    session.config_sent_against = current.remote_config_hash


def settings_hash(heartbeat_interval_seconds: int, opamp_headers=(), opamp_endpoint: str = "") -> bytes:
    """ConnectionSettingsOffers.hash of the offer to an agent that takes every part of it."""
    return offers.offer(offers.OFFER_BITS, heartbeat_interval_seconds, opamp_headers, opamp_endpoint)[0]


def _put_settings_offer(reply, current: GatewayState, session: Session) -> None:
    """Offer the connection settings (opamp_core.offers) when the agent holds another offer.

    What the agent holds is what it reported (ConnectionSettingsStatus) or what this connection
    offered it last: an offer is sent once per connection and content, and again on every new
    connection until the agent reports its hash (a token being rotated in reaches an agent that
    lost the offer with its connection). Its `opamp` part names the endpoint the agent reaches us
    through (current.opamp_endpoint), as the spec requires; its `own_metrics` part (agents with
    ReportsOwnMetrics) where to send the agent's own metrics (current.own_metrics).
    """
    made = offers.offer(
        current.capabilities,
        current.heartbeat_interval_seconds,
        current.opamp_headers,
        current.opamp_endpoint,
        current.own_metrics,
    )
    if made is None or session.settings_hash == made[0]:
        return
    offers.fill(reply.connection_settings, *made)
    session.settings_hash = made[0]


def push(state: GatewayState, session: Session) -> tuple[opamp_pb2.ServerToAgent | None, Session]:
    """A server-initiated message for a connected agent (e.g. its desired config just changed).

    Applies the same rules as process() to the stored state; returns (None, session) when there
    is nothing to send. Needs a known instance_uid.
    """
    if state.instance_uid is None:
        return None, session
    reply = base_reply(state.instance_uid)
    session = updated(session)
    if _config_to_send(state, session, resync=False):
        _put_remote_config(reply, state, session)
    _put_settings_offer(reply, state, session)
    if not (reply.HasField("remote_config") or reply.HasField("connection_settings")):
        return None, session
    return reply, session


def reassign_instance_uid(result: Result, new_uid: bytes) -> Result:
    """Give the gateway `new_uid` instead of the uid it claimed (another gateway holds that one).

    The reply then tells the agent to switch (agent_identification), and changes save new_uid.
    """
    changes = dict(result.changes, instance_uid=uuid.UUID(bytes=new_uid))
    reply = opamp_pb2.ServerToAgent()
    reply.CopyFrom(result.reply)
    reply.agent_identification.new_instance_uid = new_uid
    return updated(result, reply=reply, changes=changes, claims_new_uid=changes["instance_uid"])


def new_instance_uid(now_ms: int | None = None) -> bytes:
    """A fresh UUIDv7 (the spec's recommendation) as 16 bytes: 48-bit ms time, then random bits."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    value[6] = 0x70 | (value[6] & 0x0F)  # version 7
    value[8] = 0x80 | (value[8] & 0x3F)  # RFC 4122 variant
    return bytes(value)
