import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from deployments_app import services
from deployments_app.models import Deployment, DeploymentTarget
from tests import live
from tests.deployments_app.conftest import make_gateway, make_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql(db):
    """Row locks need PostgreSQL: skipped locally without PostgreSQL, failed in CI (tests/live.py)."""
    live.test_database_url()


def backend_pid():
    """The PostgreSQL backend of this thread's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_waiting_for_a_lock(backend, seconds=5):
    """Whether the backend whose pid `backend["pid"]` holds (once set) waits for a lock before the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if "pid" in backend:
            with connection.cursor() as cursor:
                # pg_locks is live (pg_stat_activity would be a snapshot frozen for this transaction).
                cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [backend["pid"]])
                if cursor.fetchone()[0]:
                    return True
        time.sleep(0.02)
    return False


def test_a_concurrent_deployment_of_the_same_gateway_waits_for_the_first_and_is_refused(org, alice, monkeypatch):
    gateway = make_gateway(org, "gw-1")
    first, second = make_version(org, "first"), make_version(org, "second")
    first_locked = threading.Event()
    create_targets = services._create_targets
    errors = {}

    second_backend = {}

    def slow_create_targets(deployment, gateways):
        if deployment.template_version_id == first.pk:
            first_locked.set()
            # The first holds the gateway's row lock until the second is seen waiting for it.
            assert wait_until_waiting_for_a_lock(second_backend), "the second deployment never waited for the lock"
        create_targets(deployment, gateways)

    monkeypatch.setattr(services, "_create_targets", slow_create_targets)

    def deploy(version, wait=None):
        if wait:
            wait.wait(5)
            second_backend["pid"] = backend_pid()
        try:
            services.create_deployment(org, template_version=version, selector_gateways=[gateway], user=alice)
        except ValidationError as error:
            errors[version.pk] = error.messages
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
    # The second waited for the first's row lock, then saw its target: one rollout per gateway.
    deployment = Deployment.objects.get()
    assert deployment.template_version == first
    assert DeploymentTarget.objects.get().gateway == gateway
    assert "still in deployment" in errors[second.pk][0]
