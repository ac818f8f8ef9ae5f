"""Shared fixtures. Personas, as in Healthchecks' hc/test.py:

- alice: owner of `org` (acme)
- bob: member of `org` with the role a test asks for (editor by default, see `bob_role`)
- charlie: owner of `other_org` (globex), who must never see acme's objects
"""

import faulthandler
import os
import sys
import time
import uuid
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from rest_framework.test import APIClient

from core_app.roles import Role
from core_app.services import create_organization, set_membership

# Fails a test that starts a process or a browser without the `process` / `browser` marker (make test-fast).
pytest_plugins = ["pytester", "tests.process_guard"]


def _is_transactional(request):
    marker = request.node.get_closest_marker("django_db")
    by_marker = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    return bool(by_marker) or bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def flush_outlasts_live_servers(request):
    """A transactional test's database flush is never the one PostgreSQL aborts in a deadlock.

    Live servers (Daphne, a Celery worker and beat, module-scoped fixtures) go on writing presence and rollout
    ticks while a test's teardown flushes the database; a server transaction that holds a row and then waits for
    a table the flush's TRUNCATE already holds is a deadlock. This fixture is set up after the test's database
    (so torn down before its flush) and makes the flush outwait the servers (tests/live.py `outlast_deadlocks`):
    the server's transaction is aborted, and retried by the server, instead of the flush failing the test.
    """
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up first, torn down (flushed) after this fixture
    yield
    from tests.live import outlast_deadlocks

    outlast_deadlocks()


def pytest_configure(config):
    # In CI the production shape is mandatory: a missing DATABASE_URL or REDIS_URL is a failure.
    if os.environ.get("CI") == "true":
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError(f"CI=true but {', '.join(missing)} is not set")


# Seconds a finished run may take to exit before it fails with every thread's stack.
EXIT_SECONDS = 60


def pytest_unconfigure(config):
    # pytest-timeout bounds each test, its fixtures and finalizers; nothing bounds the exit, where Python joins
    # every non-daemon thread (concurrent.futures' workers, where async_to_sync runs its event loops). A loop that
    # could not finish its shutdown kept a finished run alive, idle, for ever. faulthandler's watchdog is a C thread:
    # it prints every thread's stack and exits with status 1 even then.
    faulthandler.dump_traceback_later(EXIT_SECONDS, exit=True, file=sys.__stderr__)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.3 s per user created; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Consumers run inside the test process too: keep gc.freeze() (opamp_app/heap.py) to servers.
    settings.FLOWGATE_OPAMP_FREEZE_GC = False


@pytest.fixture(autouse=True)
def fresh_rate_limits(monkeypatch):
    # Rate-limit counters live in the shared cache (Redis in CI): each test counts from zero, so
    # the limits stay on in every test without the many requests of a whole run adding up.
    from core_app import ratelimit

    monkeypatch.setattr(ratelimit, "NAMESPACE", f"ratelimit-test-{uuid.uuid4().hex[:12]}")
    # Fixed windows: a test's requests on either side of a minute's end would count in two windows.
    # One second into a day, every window (second to day) holds the whole test.
    pinned = time.time() // 86400 * 86400 + 1
    monkeypatch.setattr(ratelimit, "clock", lambda: pinned)


@contextmanager
def database_outage():
    """Every query inside fails as when PostgreSQL cannot be reached."""

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", refuse)
        patch.setattr(CursorWrapper, "executemany", refuse)
        yield


@pytest.fixture
def database_down():
    """The database is unreachable from here on (set up after the test's data fixtures)."""
    with database_outage():
        yield


@pytest.fixture
def org(db):
    return create_organization("acme", "Acme")


@pytest.fixture
def other_org(db):
    return create_organization("globex", "Globex")


def make_user(username, **extra):
    return get_user_model().objects.create_user(username, f"{username}@example.com", "s3cret-pass-123", **extra)


@pytest.fixture
def alice(org):
    user = make_user("alice", is_staff=True)
    set_membership(org, user, Role.OWNER)
    return user


@pytest.fixture
def bob_role():
    return Role.EDITOR


@pytest.fixture
def bob(org, bob_role):
    user = make_user("bob", is_staff=True)
    set_membership(org, user, bob_role)
    return user


@pytest.fixture
def charlie(other_org):
    user = make_user("charlie", is_staff=True)
    set_membership(other_org, user, Role.OWNER)
    return user


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_client(alice):
    """An API client signed in as alice (owner of acme)."""
    return client_for(alice)


@pytest.fixture
def bob_client(bob):
    return client_for(bob)


@pytest.fixture
def charlie_client(charlie):
    return client_for(charlie)


@pytest.fixture
def gateway(org):
    from gateways_app.models import Gateway

    return Gateway.objects.create(organization=org, name="gw-1", hostname="gw-1.example.com")
