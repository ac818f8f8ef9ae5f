"""Services of the OpAMP server: the database side of both transports.

Everything here is synchronous ORM code; its callers (the transports consumers.py and views.py,
the group commit writes.py, presence.py) call it through `database_sync_to_async`, never on the
event loop. The rule that keeps per-message cost flat: a WebSocket connection authenticates once
(one query; a plain-HTTP request once per request), keeps the gateway's state in memory, and
writes only when protocol.process() reports a change (`needs_write`) or the agent's transport
changed; writes.py gathers those of many agents into one save_many(). last_seen alone is not such
a change: presence.py writes it for all live gateways of a process in one statement.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core_app import audit
from core_app.models import OrgSettings
from core_app.services import get_org_settings
from gateways_app import rotation, tokens
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken
from opamp_app import own_metrics
from opamp_core import convert, offers, protocol

logger = logging.getLogger(__name__)

# A gateway not heard from for this many heartbeat intervals is offline: a plain-HTTP agent that stopped
# polling, or a WebSocket agent whose server process ended without marking it offline.
STALE_HEARTBEATS = 3


@dataclass(frozen=True)
class Agent:
    """Who is on the other end of an OpAMP connection: what its token resolved to."""

    gateway: Gateway  # with .organization loaded
    token_id: uuid.UUID
    token_expires_at: datetime
    heartbeat_interval_seconds: int
    # Offered in ConnectionSettingsOffers.opamp: a new token (rotation), else the token in use (offered_headers).
    opamp_headers: tuple = ()
    own_headers: tuple = ()  # the `Authorization` header of the token this connection authenticated with
    # Offered in ConnectionSettingsOffers.own_metrics (own_metrics.py): the gateway's telemetry credential
    # (`Authorization` value) and the organization's reporting interval.
    telemetry_authorization: str = ""
    telemetry_interval_seconds: int = 30


def extract_token(authorization: str, query_token: str) -> str:
    """The token of a request: `Authorization: Bearer <token>`, else the `token` query parameter.

    '' when there is none; an Authorization header of another scheme counts as none.
    """
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return query_token or ""


def authenticate(raw_token, now=None) -> Agent:
    """The Agent an OpAMP token stands for; gateways_app.tokens.TokenError when refused.

    One query (the token with its gateway, organization, settings, the token offered to the
    gateway and its telemetry credential). Missing, malformed, expired, revoked, replaced-and-past-grace
    and wrong-audience tokens (a registration token) are all refused. The first connection with a
    token offered to the gateway completes its rotation (gateways_app.rotation.complete: a few
    writes, once); a connection with another token is offered it (opamp_headers). A gateway's first
    connection issues its telemetry credential (own_metrics.authorization_of: one write, once).
    """
    row = tokens.verify_opamp_token(raw_token, now, annotations=own_metrics.annotations())
    gateway = row.gateway
    if gateway.offered_opamp_token_id == row.pk:
        rotation.complete(gateway, row, now)
    org_settings = _org_settings(gateway.organization)
    own_headers = offers.bearer_headers(raw_token)
    return Agent(
        gateway,
        row.pk,
        row.expires_at,
        org_settings.heartbeat_interval_seconds,
        offered_headers(gateway, row.pk, own_headers),
        own_headers,
        telemetry_authorization=own_metrics.authorization_of(row),
        telemetry_interval_seconds=org_settings.telemetry_interval_seconds,
    )


def offered_headers(gateway: Gateway, token_id, own_headers: tuple = ()) -> tuple:
    """The OpAMP headers to offer a connection of `gateway` authenticated with `token_id` (and `own_headers`).

    The token offered to the gateway (its row loaded with the gateway), unless it is the one in use;
    otherwise the connection's own `Authorization` header. Every `opamp` offer carries headers for
    agents that take connection settings: some (the OpenTelemetry contrib supervisor) replace their
    headers with the offered ones, and would reconnect without a token after an offer without it.
    Our supervisor takes a token it already uses as no change.
    """
    offered = gateway.offered_opamp_token
    if offered is None or offered.pk == token_id:
        return own_headers
    return offers.bearer_headers(tokens.opamp_jwt(offered, gateway))


def load_offered_headers(gateway_id, token_id, own_headers: tuple = ()) -> tuple:
    """offered_headers() after the gateway's offer changed (push: a token was just offered). One query."""
    gateway = Gateway.objects.select_related("offered_opamp_token").filter(pk=gateway_id).first()
    return own_headers if gateway is None else offered_headers(gateway, token_id, own_headers)


def _org_settings(org) -> OrgSettings:
    try:
        return org.settings
    except ObjectDoesNotExist:  # an organization made without its settings row
        return get_org_settings(org)


def report_limits() -> convert.Limits:
    """What one report may carry, from the FLOWGATE_OPAMP_MAX_* settings (docs/security.md)."""
    return convert.Limits(
        attributes=settings.FLOWGATE_OPAMP_MAX_ATTRIBUTES,
        health_components=settings.FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS,
        health_depth=settings.FLOWGATE_OPAMP_MAX_HEALTH_DEPTH,
        available_components=settings.FLOWGATE_OPAMP_MAX_AVAILABLE_COMPONENTS,
        messages=settings.FLOWGATE_OPAMP_MAX_MESSAGES,
        effective_config_bytes=settings.FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES,
    )


def load_state(agent: Agent, opamp_endpoint: str = "", metrics_endpoint: str = "") -> protocol.GatewayState:
    """The protocol's view of the agent's gateway (no query: the row came with the token).

    `opamp_endpoint`: the OpAMP URL the agent reaches us through, offered in the connection
    settings (the transport computes it from its connection: core_app.agent_urls);
    `metrics_endpoint`: the portal's OTLP/HTTP metrics URL the same way (own_metrics.py), offered
    with the agent's telemetry credential in `own_metrics` ('' offers none).
    """
    return protocol.GatewayState.from_gateway(
        agent.gateway,
        heartbeat_interval_seconds=agent.heartbeat_interval_seconds,
        opamp_headers=agent.opamp_headers,
        opamp_endpoint=opamp_endpoint,
        own_metrics=own_metrics.destination(
            metrics_endpoint, agent.telemetry_authorization, agent.telemetry_interval_seconds
        ),
    )


def needs_write(result: protocol.Result) -> bool:
    """Whether the result changes the Gateway row (a refreshed last_seen alone does not count)."""
    return bool(result.changes.keys() - {"last_seen"})


def save_changes(gateway_id, changes: dict) -> None:
    """Write protocol changes to the Gateway row: one UPDATE, and none when there is nothing to write.

    With save_many() (the group commit's batches), the only way per-message state reaches the database.
    """
    if changes:
        Gateway.objects.filter(pk=gateway_id).update(**changes)


def save_many(pending: dict) -> dict:
    """Write the changes of many gateways ({gateway id: changes}) together; returns {gateway id: error}.

    One transaction, few statements (_update_many). When a row's values are refused
    (DataError, IntegrityError), the rows are written one by one so that only the refused ones
    fail; a lost connection fails them all (the caller answers UNAVAILABLE).
    """
    try:
        with transaction.atomic():
            _update_many(pending)
        return {}
    except (DataError, IntegrityError):
        logger.warning("a batch of %d OpAMP status writes was refused; writing them one by one", len(pending))
    failed = {}
    for gateway_id, changes in pending.items():
        try:
            with transaction.atomic():
                save_changes(gateway_id, changes)
        except (DataError, IntegrityError) as error:
            logger.error("could not save the OpAMP report of gateway %s: %s", gateway_id, error)
            failed[gateway_id] = error
    return failed


# Rows per statement of the batched writes (ids of an array parameter, rows of a VALUES list).
ROWS_PER_STATEMENT = 1000


def _update_many(pending: dict) -> None:
    """Gateways whose changes have the same values (but last_seen) share one UPDATE … WHERE id = ANY(…).

    That is the common case under load: after a push, every agent reports the same
    remote_config_status and hash. Their last_seen becomes the latest of the group (the reports
    of one batch are milliseconds apart). The remaining gateways, each with values of its own
    (health, effective config), share one `UPDATE … FROM (VALUES …)` per set of fields on
    PostgreSQL; elsewhere they get one UPDATE each.
    """
    groups = {}
    for gateway_id, changes in pending.items():
        values = {name: value for name, value in changes.items() if name != "last_seen"}
        group = groups.setdefault(_values_key(values), {"values": values, "ids": [], "last_seen": None})
        group["ids"].append(gateway_id)
        seen = changes.get("last_seen")
        if seen is not None and (group["last_seen"] is None or seen > group["last_seen"]):
            group["last_seen"] = seen
    alone = {}
    for group in groups.values():
        values = group["values"] if group["last_seen"] is None else {**group["values"], "last_seen": group["last_seen"]}
        if len(group["ids"]) == 1:
            alone[group["ids"][0]] = values
            continue
        for chunk in _chunks(sorted(group["ids"], key=str), ROWS_PER_STATEMENT):  # one lock order for every writer
            Gateway.objects.filter(pk__any=chunk).update(**values)
    if connection.vendor != "postgresql":
        for gateway_id, values in alone.items():
            save_changes(gateway_id, values)
        return
    by_fields = {}
    for gateway_id, values in alone.items():
        by_fields.setdefault(tuple(sorted(values)), []).append((gateway_id, values))
    for names, rows in by_fields.items():
        fields = [Gateway._meta.get_field(name) for name in names]
        rows.sort(key=lambda row: str(row[0]))
        for chunk in _chunks(rows, ROWS_PER_STATEMENT):
            _update_rows(fields, chunk)


def _values_key(values: dict) -> tuple:
    """A hashable key equal for equal changes (JSON values compared by their sorted serialisation)."""
    return tuple(
        (name, json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value)
        for name, value in sorted(values.items())
    )


def _update_rows(fields, rows) -> None:
    """UPDATE gateway SET f = v.f, … FROM (VALUES (id, f, …), …) AS v WHERE gateway.id = v.id.

    The SQL text holds only names from the model (quoted) and placeholders; values are parameters.
    """
    table = connection.ops.quote_name(Gateway._meta.db_table)
    columns = [connection.ops.quote_name(field.column) for field in fields]
    casts = [f"%s::{field.db_type(connection)}" for field in fields]
    row_sql = "(" + ", ".join(["%s::uuid", *casts]) + ")"
    params = []
    for gateway_id, changes in rows:
        params.append(gateway_id)
        params.extend(field.get_db_prep_save(changes[field.name], connection) for field in fields)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    sql = (
        f"UPDATE {table} AS g SET {assignments} FROM (VALUES {', '.join([row_sql] * len(rows))}) "  # noqa: S608
        f"AS v(id, {', '.join(columns)}) WHERE g.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def save_result(gateway: Gateway, result: protocol.Result, *, transport: str, first_contact: bool = False):
    """Persist what protocol.process() decided for `gateway`; returns the Result to send.

    A claimed instance_uid is checked against the other gateways first: when one holds it,
    this gateway gets a fresh uid and the reply tells the agent (two gateways are never merged).
    `first_contact` (the gateway had never been seen) and uid adoption are audited; nothing else is.
    The row's `transport` becomes `transport`.
    """
    if result.claims_new_uid is not None:
        result = _adopt_instance_uid(gateway, result, transport)
    else:
        _save_with_transport(gateway, result, transport)
    if first_contact:
        audit.record(
            gateway.organization, "gateway.first_connection", gateway, gateway=gateway, changes={"transport": transport}
        )
    return result


def _save_with_transport(gateway: Gateway, result: protocol.Result, transport: str) -> None:
    save_changes(gateway.pk, {**result.changes, "transport": transport})


def _adopt_instance_uid(gateway: Gateway, result: protocol.Result, transport: str) -> protocol.Result:
    claimed = result.claims_new_uid
    with transaction.atomic():
        if Gateway.objects.filter(instance_uid=claimed).exclude(pk=gateway.pk).exists():
            result = protocol.reassign_instance_uid(result, protocol.new_instance_uid())
        try:
            with transaction.atomic():
                _save_with_transport(gateway, result, transport)
        except IntegrityError:
            # Another gateway took the same uid between the check and the write.
            result = protocol.reassign_instance_uid(result, protocol.new_instance_uid())
            _save_with_transport(gateway, result, transport)
        changes = {"instance_uid": str(result.claims_new_uid)}
        if result.claims_new_uid != claimed:
            changes["refused_duplicate"] = str(claimed)
            logger.warning("gateway %s claimed instance_uid %s held by another gateway", gateway.pk, claimed)
        audit.record(gateway.organization, "gateway.instance_uid_adopted", gateway, gateway=gateway, changes=changes)
    return result


def mark_offline(gateway_id, now=None) -> bool:
    """The agent's connection ended: the gateway is offline (one UPDATE). True if it was not already."""
    now = now or timezone.now()
    live = Gateway.objects.filter(pk=gateway_id).exclude(status=GatewayStatus.OFFLINE)
    return bool(live.update(status=GatewayStatus.OFFLINE, last_seen=now))


# Ids per statement in the per-process checks below.
IDS_PER_STATEMENT = 1000


def live_token_ids(token_ids, now=None) -> set:
    """The ids among `token_ids` of tokens that still work (exist, not revoked, not expired, not
    replaced by a newer token and past their grace period).

    One query per IDS_PER_STATEMENT ids, each an array parameter (`__any`, core_app/lookups.py):
    this runs for every open WebSocket of a process every few seconds.
    """
    now = now or timezone.now()
    live = set()
    for chunk in _chunks(list(token_ids), IDS_PER_STATEMENT):
        rows = OpAMPToken.objects.filter(pk__any=chunk, revoked_at__isnull=True, expires_at__gt=now).filter(
            Q(grace_until__isnull=True) | Q(grace_until__gt=now)
        )
        live.update(rows.values_list("pk", flat=True))
    return live


def touch_gateways(statuses: dict, now=None) -> None:
    """Record that these gateways are alive now: {gateway id: status its connection reports}.

    One UPDATE per distinct status (online, degraded) and IDS_PER_STATEMENT gateways, for every
    gateway of a server process. It also puts back the status of a connected gateway that
    something else marked offline.
    """
    now = now or timezone.now()
    by_status = {}
    for gateway_id, status in statuses.items():
        by_status.setdefault(status, []).append(gateway_id)
    for status, ids in by_status.items():
        for chunk in _chunks(sorted(ids, key=str), IDS_PER_STATEMENT):
            Gateway.objects.filter(pk__any=chunk).update(last_seen=now, status=status)


def _chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def mark_stale_gateways_offline(now=None) -> int:
    """Set offline the gateways not heard from for three heartbeat intervals; returns how many.

    The interval is the gateway's organization's; the presence write period is added as grace
    (last_seen of live gateways is written that often, see presence.py). One UPDATE per distinct
    interval in use, plus one for organizations without a settings row.
    """
    now = now or timezone.now()
    grace = timedelta(seconds=settings.FLOWGATE_OPAMP_PRESENCE_SECONDS)
    live = Gateway.objects.exclude(status=GatewayStatus.OFFLINE)
    intervals = OrgSettings.objects.values_list("heartbeat_interval_seconds", flat=True).distinct()
    groups = [(Q(organization__settings__heartbeat_interval_seconds=seconds), seconds) for seconds in intervals]
    groups.append((Q(organization__settings__isnull=True), protocol.DEFAULT_HEARTBEAT_SECONDS))
    count = 0
    for in_group, seconds in groups:
        cutoff = now - STALE_HEARTBEATS * timedelta(seconds=seconds) - grace
        stale = live.filter(in_group).filter(Q(last_seen__lt=cutoff) | Q(last_seen__isnull=True))
        count += stale.update(status=GatewayStatus.OFFLINE)
    if count:
        logger.info("marked %d gateways offline after %d missed heartbeats", count, STALE_HEARTBEATS)
    return count
