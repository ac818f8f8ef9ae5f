"""Tell connected agents about changes made anywhere, through the channel layer.

Callable from any process that shares the channel layer (a web request, a Celery task, a
management command); with the default in-memory layer they reach only connections of the
calling process. All helpers are synchronous.

- `notify_config_changed(gateway_ids)`: one message per distinct desired config (and per
  GATEWAYS_PER_MESSAGE gateways) to the group of all server processes (`presence.SERVERS_GROUP`).
  It carries the YAML, its hash and the gateway ids; each process hands it to its own
  connections of those gateways, which update their state in memory (no query) and send
  AgentRemoteConfig right away (protocol.push()). One message for a deployment to 5,000
  gateways, not 5,000: channels-redis queues all messages for one process in one Redis key
  (100 messages by default, the rest dropped) and pops them one at a time.
- Every WebSocket also joins the group of its gateway (`group_name()`) for events about that
  gateway alone (the consumer's handler has the same name with `_` for `.`):
  `opamp.tokens_revoked` (the consumer checks its own token and closes if it no longer works)
  and `opamp.restart` (sends the Restart command to agents that accept it).
"""

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from gateways_app.models import Gateway
from opamp_app.presence import CONFIGS_CHANGED, SERVERS_GROUP

logger = logging.getLogger(__name__)

# Gateway ids per config message (33 bytes each once serialised).
GATEWAYS_PER_MESSAGE = 10_000


def group_name(gateway_id) -> str:
    """The channel-layer group of one gateway's connections."""
    return f"opamp.gateway.{uuid.UUID(str(gateway_id)).hex}"


def notify_config_changed(gateway_ids) -> int:
    """Push the current desired config of these gateways to their open connections.

    Two queries: the gateways' config hashes, then the YAML once per distinct hash (a
    deployment gives thousands of gateways the same config). Returns how many gateways.
    """
    rows = Gateway.objects.filter(pk__in=list(gateway_ids)).values_list("pk", "desired_config_hash")
    ids_by_hash = {}
    for pk, digest in rows:
        ids_by_hash.setdefault(digest, []).append(pk)
    sample_ids = [ids[0] for ids in ids_by_hash.values()]
    samples = Gateway.objects.filter(pk__in=sample_ids).values_list("pk", "desired_config", "desired_config_hash")
    configs = {pk: (config, digest) for pk, config, digest in samples}
    events = []
    for ids in ids_by_hash.values():
        hex_ids = [pk.hex for pk in ids]
        # Config and hash of one row, read together: a matching pair even if a row changed meanwhile.
        config, digest = configs.get(ids[0], ("", ""))
        event = {"type": CONFIGS_CHANGED, "desired_config": config, "desired_config_hash": digest}
        for start in range(0, len(hex_ids), GATEWAYS_PER_MESSAGE):
            events.append((SERVERS_GROUP, {**event, "gateway_ids": hex_ids[start : start + GATEWAYS_PER_MESSAGE]}))
    _send(events)
    return len(rows)


def notify_tokens_revoked(gateway_id) -> None:
    """Make the gateway's open connections re-check their token (and close if it was revoked)."""
    _send([(group_name(gateway_id), {"type": "opamp.tokens_revoked"})])


def request_restart(gateway_id) -> None:
    """Ask the gateway's connected agent to restart (only agents with AcceptsRestartCommand do)."""
    _send([(group_name(gateway_id), {"type": "opamp.restart"})])


def on_tokens_revoked(sender, gateway_id, **kwargs):
    """Receiver of gateways_app.signals.opamp_tokens_revoked (connected in OpampConfig.ready)."""
    try:
        notify_tokens_revoked(gateway_id)
    except Exception:
        # The revocation is committed already; the periodic token check closes the connection anyway.
        logger.exception("could not notify the connections of gateway %s of revoked tokens", gateway_id)


def _send(events) -> None:
    layer = get_channel_layer()
    if layer is None or not events:
        return
    async_to_sync(_group_send_all)(layer, events)


async def _group_send_all(layer, events):
    for group, event in events:
        await layer.group_send(group, event)
