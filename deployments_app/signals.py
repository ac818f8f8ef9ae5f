"""Signals of the rollout engine.

`tick_requested(sender=Deployment, deployment_id=str)`: the engine (rollout, reconciliation)
wants one more tick of a deployment, run soon by a worker: DeploymentsConfig.ready() connects
the receiver that queues advance_rollout for it. The tasks enqueue and the engine computes: the
tasks import the engine, and this signal spares the engine importing them.

`validation_requested(sender=Deployment, deployment_id=str)`: a deployment was created
"validating" (services.create_deployment, after the commit): DeploymentsConfig.ready() connects
the receiver that queues tasks.validate_deployment, with a broker only (without one the
embedded beat's validate-deployments entry runs it, outside the web request).
"""

from django.dispatch import Signal

tick_requested = Signal()
validation_requested = Signal()
