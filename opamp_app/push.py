"""Tell connected agents about changes made anywhere, through the channel layer.

Callable from any process that shares the channel layer (a web request, a Celery task, a
management command); with the default in-memory layer they reach only connections of the
calling process. All helpers are synchronous. The apps below this one never call them: they
send gateways_app.signals (tokens revoked, desired config changed, restart requested), whose
receivers here OpampConfig.ready() connects.

Every message goes to the group of all server processes (`presence.SERVERS_GROUP`), never to
one channel per connection: each process hands it, in memory, to its own connections of the
gateways the message names (presence.Registry). A deployment to 5,000 gateways is one
message per server process, not 5,000 — channels-redis queues all messages for one process
in one Redis key (100 by default, the rest dropped) and pops them one at a time, and a
channel per connection costs each connection a pending Redis read (docs/benchmarks.md).

- `notify_config_changed(gateway_ids)`: one message per distinct desired config (and per
  GATEWAYS_PER_MESSAGE gateways), with the YAML, its hash and the gateway ids. The
  connections update their state (no query) and send AgentRemoteConfig right away
  (protocol.push()).
- `notify_tokens_revoked(gateway_id)`: the gateway's connections re-check their tokens and
  close if theirs no longer works.
- `request_restart(gateway_id)`: the gateway's connected agents that accept it get the
  Restart command.
- `notify_token_offered(gateway_id)`: the gateway has a new OpAMP token to take (rotation); its
  connections read the offer (one query each) and send it in ConnectionSettingsOffers.
- `notify_settings_changed(organization_id, heartbeat_interval_seconds, telemetry_interval_seconds)`:
  the organization's connected agents are offered the intervals (sent after every save of its settings).
- `notify_telemetry_credential(gateway_id)`: the gateway's telemetry credential was rotated; its
  connections read the new one (one query each) and offer it in ConnectionSettingsOffers.own_metrics.
"""

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from gateways_app.models import Gateway
from opamp_app.presence import (
    CONFIGS_CHANGED,
    GATEWAY_EVENT,
    RESTART,
    SERVERS_GROUP,
    SETTINGS_CHANGED,
    TELEMETRY_CREDENTIAL_OFFERED,
    TOKEN_OFFERED,
    TOKENS_REVOKED,
)

logger = logging.getLogger(__name__)

# Gateway ids per message (33 bytes each once serialised).
GATEWAYS_PER_MESSAGE = 10_000


def notify_config_changed(gateway_ids) -> int:
    """Push the current desired config of these gateways to their open connections.

    Two queries: the gateways' config hashes, then the YAML once per distinct hash (a
    deployment gives thousands of gateways the same config). Returns how many gateways.
    """
    rows = Gateway.objects.filter(pk__any=list(gateway_ids)).values_list("pk", "desired_config_hash")
    ids_by_hash = {}
    for pk, digest in rows:
        ids_by_hash.setdefault(digest, []).append(pk)
    sample_ids = [ids[0] for ids in ids_by_hash.values()]
    samples = Gateway.objects.filter(pk__in=sample_ids).values_list("pk", "desired_config", "desired_config_hash")
    configs = {pk: (config, digest) for pk, config, digest in samples}
    events = []
    for ids in ids_by_hash.values():
        # Config and hash of one row, read together: a matching pair even if a row changed meanwhile.
        config, digest = configs.get(ids[0], ("", ""))
        event = {"type": CONFIGS_CHANGED, "desired_config": config, "desired_config_hash": digest}
        events.extend(_per_gateways(event, ids))
    _send(events)
    return len(rows)


def notify_tokens_revoked(gateway_id) -> None:
    """Make the gateway's open connections re-check their token (and close if it was revoked)."""
    _send(_per_gateways({"type": GATEWAY_EVENT, "event": TOKENS_REVOKED}, [gateway_id]))


def notify_token_offered(gateway_id) -> None:
    """Make the gateway's open connections offer it the new OpAMP token (gateways_app.rotation)."""
    _send(_per_gateways({"type": GATEWAY_EVENT, "event": TOKEN_OFFERED}, [gateway_id]))


def request_restart(gateway_id) -> None:
    """Ask the gateway's connected agent to restart (only agents with AcceptsRestartCommand do)."""
    _send(_per_gateways({"type": GATEWAY_EVENT, "event": RESTART}, [gateway_id]))


def notify_settings_changed(
    organization_id, heartbeat_interval_seconds: int, telemetry_interval_seconds: int | None = None
) -> None:
    """Offer an organization's (new) heartbeat and own-metrics intervals to its connected agents.

    Connections whose agent already has these intervals send nothing (protocol.push()).
    """
    event = {
        "type": SETTINGS_CHANGED,
        "organization_id": uuid.UUID(str(organization_id)).hex,
        "heartbeat_interval_seconds": heartbeat_interval_seconds,
    }
    if telemetry_interval_seconds is not None:
        event["telemetry_interval_seconds"] = telemetry_interval_seconds
    _send([event])


def notify_telemetry_credential(gateway_id) -> None:
    """Make the gateway's open connections offer its new telemetry credential (own_metrics)."""
    _send(_per_gateways({"type": GATEWAY_EVENT, "event": TELEMETRY_CREDENTIAL_OFFERED}, [gateway_id]))


def on_settings_saved(sender, instance, **kwargs):
    """post_save receiver of OrgSettings (connected in OpampConfig.ready): after the commit."""
    organization_id, seconds = instance.organization_id, instance.heartbeat_interval_seconds
    telemetry_seconds = instance.telemetry_interval_seconds

    def notify():
        try:
            notify_settings_changed(organization_id, seconds, telemetry_seconds)
        except Exception:
            # Saved already; agents get the intervals when they reconnect.
            logger.exception("could not offer the new intervals of organization %s", organization_id)

    transaction.on_commit(notify)


def on_telemetry_credential_rotated(sender, gateway_id, **kwargs):
    """Receiver of telemetry_app.signals.telemetry_credential_rotated (connected in OpampConfig.ready)."""
    try:
        notify_telemetry_credential(gateway_id)
    except Exception:
        # The rotation is committed already; the agent is offered the credential when it reconnects.
        logger.exception("could not offer a new telemetry credential to the connections of gateway %s", gateway_id)


def on_tokens_revoked(sender, gateway_id, **kwargs):
    """Receiver of gateways_app.signals.opamp_tokens_revoked (connected in OpampConfig.ready)."""
    try:
        notify_tokens_revoked(gateway_id)
    except Exception:
        # The revocation is committed already; the periodic token check closes the connection anyway.
        logger.exception("could not notify the connections of gateway %s of revoked tokens", gateway_id)


def on_token_offered(sender, gateway_id, **kwargs):
    """Receiver of gateways_app.signals.opamp_token_offered (connected in OpampConfig.ready)."""
    try:
        notify_token_offered(gateway_id)
    except Exception:
        # The rotation is committed already; the agent is offered the token when it reconnects.
        logger.exception("could not offer a new OpAMP token to the connections of gateway %s", gateway_id)


def on_desired_config_changed(sender, gateway_ids, **kwargs):
    """Receiver of gateways_app.signals.desired_config_changed (connected in OpampConfig.ready)."""
    notify_config_changed(gateway_ids)


def on_restart_requested(sender, gateway_id, **kwargs):
    """Receiver of gateways_app.signals.restart_requested (connected in OpampConfig.ready)."""
    request_restart(gateway_id)


def _per_gateways(event: dict, gateway_ids) -> list[dict]:
    hex_ids = [pk.hex if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk)).hex for pk in gateway_ids]
    return [
        {**event, "gateway_ids": hex_ids[start : start + GATEWAYS_PER_MESSAGE]}
        for start in range(0, len(hex_ids), GATEWAYS_PER_MESSAGE)
    ]


def _send(events) -> None:
    layer = get_channel_layer()
    if layer is None or not events:
        return
    async_to_sync(_group_send_all)(layer, events)


async def _group_send_all(layer, events):
    for event in events:
        await layer.group_send(SERVERS_GROUP, event)
