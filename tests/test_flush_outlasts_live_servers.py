"""tests/conftest.py flush_outlasts_live_servers: in a deadlock between a live server's transaction and a test's
database flush, the server's transaction is aborted, never the flush (which would fail the test)."""

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from gateways_app.models import Tag
from tests import live

pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waits_for_a_lock(pid, seconds=5):
    """Whether backend `pid` waits for a lock before the deadline (pg_locks is live, unlike pg_stat_activity)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


def test_a_server_transaction_in_a_deadlock_with_the_flush_is_the_one_aborted(org):
    live.test_database_url()  # PostgreSQL (unavailable otherwise: SQLite has no concurrent writers)
    flush_pid = backend_pid()
    holding = threading.Event()
    outcome = {}

    def server_write():
        # As a rollout tick does: a row locked, then another table read, in one transaction.
        try:
            with transaction.atomic():
                type(org).objects.select_for_update().get(pk=org.pk)
                holding.set()
                outcome["flush waited"] = waits_for_a_lock(flush_pid)
                list(Tag.objects.all())
            outcome["server"] = "committed"
        except OperationalError as error:
            outcome["server"] = str(error)
        finally:
            connection.close()

    server = threading.Thread(target=server_write)
    server.start()
    assert holding.wait(5)
    live.outlast_deadlocks()
    with connection.cursor() as cursor:
        # The flush's TRUNCATE holds the tags, then waits for the organization the server holds.
        cursor.execute(f"TRUNCATE {Tag._meta.db_table}, {org._meta.db_table} CASCADE")
    server.join(10)
    assert outcome["flush waited"]
    assert "deadlock detected" in outcome["server"]
