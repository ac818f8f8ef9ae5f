"""Real server processes for end-to-end tests: Daphne and a Celery worker against the test database.

The processes share the test database, so tests using them need `django_db(transaction=True)`
(data must be committed to be seen) and PostgreSQL (an in-memory SQLite test database cannot be
shared). Without PostgreSQL they skip locally; with CI=true they fail instead. The same holds
for Redis (`redis_url()`), which processes need to reach each other (channel layer, broker).
"""

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection, connections
from django.test.utils import override_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable(message):
    """A test that cannot run on this machine: skipped locally, failed when CI=true (CI never skips)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# Far above the servers' (PostgreSQL's default, 1 s): see outlast_deadlocks.
FLUSH_DEADLOCK_TIMEOUT = "60s"


def outlast_deadlocks(using="default"):
    """Make this process's connection the last in any deadlock to check for it, so never the one aborted.

    PostgreSQL aborts the transaction whose deadlock_timeout runs out first once it waits in a cycle. Before a
    transactional test's flush (tests/conftest.py, flush_outlasts_live_servers), the flush's connection waits far
    longer than the live servers' connections: a server transaction caught in a cycle with the flush's TRUNCATE is
    the one aborted, and the server retries its write. deadlock_timeout is a superuser setting: the test database's
    user is a superuser (CI's is `postgres`) or was granted it (PostgreSQL 15: GRANT SET ON PARAMETER).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return  # SQLite: one writer at a time, no deadlocks
    with connection.cursor() as cursor:
        cursor.execute(f"SET deadlock_timeout = '{FLUSH_DEADLOCK_TIMEOUT}'")


def test_database_url():
    """The URL of the database this test run uses (the test database pytest-django created)."""
    if connection.vendor != "postgresql":
        unavailable("live-server tests need PostgreSQL (set DATABASE_URL)")
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def redis_url():
    """REDIS_URL of this run; skips the test without one, or fails it when CI=true."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        unavailable("this test needs Redis to connect processes (set REDIS_URL)")
    return url


@contextmanager
def redis_key_prefix(label):
    """A Redis key prefix of one test module's own (broker queue, channel layer, cache of the servers it
    starts), so parallel runs never mix; its keys are deleted afterwards."""
    url = redis_url()
    prefix = f"flowgate-{label}-{uuid.uuid4().hex[:12]}"
    with override_settings(REDIS_KEY_PREFIX=prefix):
        yield prefix
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def server_env(**extra):
    """The environment of a server process: this run's test database and Redis key prefix."""
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["REDIS_KEY_PREFIX"] = settings.REDIS_KEY_PREFIX
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Output:
    """Collects a process's output in a thread, so that a full pipe never blocks the process."""

    def __init__(self, stream):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def wait_for(self, needle, process, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if process.poll() is not None:
                raise RuntimeError(f"process exited with {process.returncode}: {self.text()}")
            time.sleep(0.1)
        raise TimeoutError(f"no {needle!r} in the output after {timeout}s: {self.text()}")


def stop_process(process, output):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output.thread.join(timeout=5)
    return output.text()


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def start(command, env):
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and modules)
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, Output(process.stdout)


class Daphne:
    """Daphne serving flowgate_site.asgi on one or more local ports, as `make run` starts it.

    Without the embedded beat unless a test asks for it: run without REDIS_URL, it would mark
    other tests' gateways offline and tick their deployments.
    """

    def __init__(self, ports, **env):
        env.setdefault("FLOWGATE_EMBEDDED_BEAT", "false")
        self.ports = ports
        endpoints = []
        for port in ports:
            endpoints += ["-e", f"tcp:port={port}:interface=127.0.0.1"]
        command = ["flowgate_site.serve", *endpoints, "flowgate_site.asgi:application"]
        self.process, self.output = start(command, server_env(**env))
        try:
            for port in ports:
                wait_for_port(port, self.process)
        except Exception:
            raise RuntimeError(stop_process(self.process, self.output)) from None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.ports[0]}"

    def stop(self):
        """Stop the server; its output."""
        return stop_process(self.process, self.output)


class CeleryWorker:
    """A Celery worker (solo pool) consuming `queue` through the Redis broker of this run (or `broker`).

    With `beat_schedule` (a file path) it also runs beat, as `make worker` and the compose file do.
    """

    def __init__(self, queue, broker=None, beat_schedule=None, **env):
        self.queue = queue
        env = server_env(CELERY_BROKER_URL=broker or redis_url(), CELERY_TASK_ALWAYS_EAGER="false", **env)
        command = ["celery", "-A", "flowgate_site", "worker", "--pool", "solo", "-Q", queue, "--loglevel", "INFO"]
        if beat_schedule:
            command += ["--beat", "-s", str(beat_schedule)]
        self.process, self.output = start(command, env)
        try:
            self.output.wait_for(" ready.", self.process)
        except Exception:
            raise RuntimeError(stop_process(self.process, self.output)) from None

    def send(self, task, *args):
        """Queue task(*args) for this worker.

        Over a new broker connection: the app's pooled ones keep the Redis key prefix they were
        opened with, which an earlier test may have opened before this run's prefix was set.
        """
        from flowgate_site.celery import app

        with app.connection_for_write() as connection:
            return task.apply_async(args=args, queue=self.queue, connection=connection)

    def stop(self):
        """Stop the worker; its output."""
        return stop_process(self.process, self.output)
