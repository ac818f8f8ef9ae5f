import threading
import time

import pytest
from django.db import connection

from deployments_app import services
from deployments_app.models import DeploymentTarget
from tests.deployments_app.conftest import make_gateway, make_version

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_a_concurrent_deployment_records_the_config_it_replaces(org, alice, monkeypatch):
    gateway = make_gateway(org, "gw-1")
    first, second = make_version(org, "first"), make_version(org, "second")
    first_locked = threading.Event()
    create_targets = services._create_targets

    def slow_create_targets(deployment, gateways):
        if deployment.template_version_id == first.pk:
            first_locked.set()
            time.sleep(0.5)  # the second deployment reaches the gateway's row lock meanwhile
        create_targets(deployment, gateways)

    monkeypatch.setattr(services, "_create_targets", slow_create_targets)

    def deploy(version, wait=None):
        if wait:
            wait.wait(5)
        try:
            services.create_deployment(org, template_version=version, selector_gateways=[gateway], user=alice)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=deploy, args=(first,)),
        threading.Thread(target=deploy, args=(second, first_locked)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # The second waited for the first to commit: rollback would restore the first's config.
    target = DeploymentTarget.objects.get(deployment__template_version=second)
    assert target.previous_config_hash == first.sha256
    gateway.refresh_from_db()
    assert gateway.desired_config_hash == second.sha256
