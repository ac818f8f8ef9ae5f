"""Real server processes for end-to-end tests: Daphne (and later Celery) against the test database.

The processes share the test database, so tests using them need `django_db(transaction=True)`
(data must be committed to be seen) and PostgreSQL (an in-memory SQLite test database cannot be
shared). Without PostgreSQL they skip locally; with CI=true they fail instead.
"""

import os
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url():
    """The URL of the database this test run uses (the test database pytest-django created)."""
    if connection.vendor != "postgresql":
        message = "live-server tests need PostgreSQL (set DATABASE_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def server_env(**extra):
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env.update({key: str(value) for key, value in extra.items()})
    return env


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class Daphne:
    """Daphne serving flowgate_site.asgi on one or more local ports."""

    def __init__(self, ports, **env):
        self.ports = ports
        endpoints = []
        for port in ports:
            endpoints += ["-e", f"tcp:port={port}:interface=127.0.0.1"]
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-m", "daphne", *endpoints, "flowgate_site.asgi:application"],
            cwd=ROOT,
            env=server_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports:
            wait_for_port(port, self.process)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.ports[0]}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.stdout.read()
