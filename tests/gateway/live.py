"""Real processes for the gateway's live tests: the OTLP sink, `python -m gateway`, Daphne and a Celery worker.

The fixtures `redis_prefix` and `system` are made available to tests/gateway/ by its conftest.py.
"""

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core_app.services import create_api_token
from tests.live import ROOT, CeleryWorker, Daphne, Output, free_port, redis_key_prefix

WAIT = 40  # seconds for anything the gateway does


class Sink:
    """A tiny OTLP/HTTP receiver: POST /v1/logs with JSON bodies; keeps the log record bodies.

    `port`: 0 for any free one; a closed sink's port to bring it back where a collector sends."""

    def __init__(self, port=0):
        self.lines = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/logs":
                    sink.lines += log_bodies(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def log_bodies(payload):
    return [
        record["body"]["stringValue"]
        for resource in payload.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]


def wait_until(condition, what, seconds=WAIT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")  # see the gateway output below


@pytest.fixture(scope="module")
def redis_prefix():
    """Redis keys of this module only (broker queue, channel layer, cache of the servers it starts).

    Only the server processes use Redis: this process changes state through the portal's API, so
    its own Celery and channel-layer configuration stay untouched (other modules rely on them).
    """
    with redis_key_prefix("gw") as prefix:
        yield prefix


class PortalApi:
    """POST to the live portal's API as a user (API token), as an operator or a script would."""

    def __init__(self, daphne, user):
        self.url = daphne.url
        self.token = create_api_token(user)[1]

    def post(self, path, body=None):
        request = urllib.request.Request(  # noqa: S310  (the local test server)
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def deploy(self, version, gateway, **settings):
        """Create a deployment of `version` to `gateway` (the worker's rollout ticks then send it)."""
        body = {"template_version": str(version.pk), "selector_gateways": [str(gateway.pk)], **settings}
        status, data = self.post("/api/v1/deployments/", body)
        assert status == 201, data
        return data


@pytest.fixture
def system(redis_prefix, org, alice, tmp_path, collector_binary):
    """Daphne, a Celery worker, the sink and a log file; stopped after the test."""
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1)
    worker = CeleryWorker(f"{redis_prefix}-tasks", FLOWGATE_ROLLOUT_TICK_SECONDS=0.5)
    sink = Sink()
    log = tmp_path / "app.log"
    log.write_text("")
    yield {"daphne": daphne, "worker": worker, "sink": sink, "log": log, "api": PortalApi(daphne, alice)}
    sink.close()
    worker.stop()
    daphne.stop()


class GatewayProcess:
    """`python -m gateway` as an operator starts it."""

    def __init__(self, *args):
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gateway", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = Output(self.process.stdout)

    def terminate(self, timeout=20):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)
