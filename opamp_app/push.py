"""Tell connected agents about changes made anywhere: one channel-layer group per gateway.

Every OpAMP WebSocket joins the group of its gateway (`group_name()`), in whatever server
process it lives. The helpers below are synchronous and can be called from any process that
shares the channel layer (a web request, a Celery task, a management command); with the
default in-memory layer they reach only connections of the calling process.

Events (the consumer's handler has the same name with `_` for `.`):

- `opamp.config_changed` {desired_config, desired_config_hash}: carries the YAML so that the
  consumer needs no query; it sends AgentRemoteConfig right away (protocol.push()).
- `opamp.tokens_revoked`: the consumer checks its own token and closes if it no longer works.
- `opamp.restart`: the consumer sends the Restart command to agents that accept it.
"""

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from gateways_app.models import Gateway

logger = logging.getLogger(__name__)


def group_name(gateway_id) -> str:
    """The channel-layer group of one gateway's connections."""
    return f"opamp.gateway.{uuid.UUID(str(gateway_id)).hex}"


def notify_config_changed(gateway_ids) -> int:
    """Push the current desired config of these gateways to their open connections (one query).

    Returns the number of gateways notified.
    """
    rows = Gateway.objects.filter(pk__in=list(gateway_ids)).values_list("pk", "desired_config", "desired_config_hash")
    events = [
        (group_name(pk), {"type": "opamp.config_changed", "desired_config": config, "desired_config_hash": digest})
        for pk, config, digest in rows
    ]
    _send(events)
    return len(events)


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
