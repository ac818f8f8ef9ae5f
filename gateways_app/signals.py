"""Signals other apps can listen to.

`opamp_tokens_revoked(sender=Gateway, gateway_id=UUID)` is sent after the transaction that
revoked one or more OpAMP tokens of a gateway commits, so that the OpAMP server can close
the gateway's open connections (a revoked token must stop working at once, not at the
next reconnect).
"""

from django.dispatch import Signal

opamp_tokens_revoked = Signal()
