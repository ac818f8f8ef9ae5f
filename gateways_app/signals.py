"""Signals other apps can listen to: how gateways_app tells the OpAMP server what to deliver.

gateways_app holds what a gateway should run; opamp_app, the layer above it, delivers that to
connected agents. It connects to these in OpampConfig.ready(), so gateways_app never imports it.
Each is sent after the transaction that made the change commits.

- `opamp_tokens_revoked(sender=Gateway, gateway_id=UUID)`: one or more OpAMP tokens of a gateway
  were revoked; the OpAMP server closes the gateway's open connections (a revoked token must stop
  working at once, not at the next reconnect).
- `desired_config_changed(sender=Gateway, gateway_ids=[UUID, ...])`: these gateways were given a
  new desired config; the OpAMP server pushes it to their open connections.
- `restart_requested(sender=Gateway, gateway_id=UUID)`: an operator asked for the gateway's
  collector to restart; the OpAMP server sends the Restart command to its connected agent.
- `opamp_token_offered(sender=Gateway, gateway_id=UUID)`: the gateway has a new OpAMP token to take
  over OpAMP (rotation.py); the OpAMP server offers it on the gateway's open connections.
"""

from django.dispatch import Signal

opamp_tokens_revoked = Signal()
desired_config_changed = Signal()
restart_requested = Signal()
opamp_token_offered = Signal()
