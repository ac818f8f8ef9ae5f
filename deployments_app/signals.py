"""Signals of the rollout engine.

`tick_requested(sender=Deployment, deployment_id=str)`: the engine (rollout, reconciliation)
wants one more tick of a deployment, run soon by a worker: DeploymentsConfig.ready() connects
the receiver that queues advance_rollout for it. The tasks enqueue and the engine computes: the
tasks import the engine, and this signal spares the engine importing them.
"""

from django.dispatch import Signal

tick_requested = Signal()
