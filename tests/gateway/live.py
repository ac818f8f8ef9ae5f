"""Real processes for the gateway's live tests: the OTLP sink, `python -m gateway`, Daphne and a Celery worker.

The fixtures `redis_prefix` and `system` are made available to tests/gateway/ by its conftest.py.
"""

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.conf import settings
from django.test.utils import override_settings

from flowgate_site.celery import app as celery_app
from tests.live import ROOT, CeleryWorker, Daphne, Output, free_port, redis_url

WAIT = 40  # seconds for anything the gateway does


class Sink:
    """A tiny OTLP/HTTP receiver: POST /v1/logs with JSON bodies; keeps the log record bodies."""

    def __init__(self):
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
    """Redis keys of this module only (channel layer, cache, broker queue), for this process and its servers."""
    url = redis_url()
    prefix = f"flowgate-gw-{uuid.uuid4().hex[:12]}"
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url], "prefix": f"{prefix}:asgi"}}
    cache = {**settings.CACHES["default"], "KEY_PREFIX": prefix}
    with override_settings(REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS={"default": layer}, CACHES={"default": cache}):
        keys = ("broker_url", "task_always_eager", "task_default_queue", "broker_transport_options")
        old = {key: celery_app.conf[key] for key in keys}
        celery_app.conf.update(
            broker_url=url,
            task_always_eager=False,
            task_default_queue=f"{prefix}-tasks",
            broker_transport_options={"global_keyprefix": f"{prefix}:celery:"},
        )
        yield prefix
        celery_app.conf.update(old)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def system(redis_prefix, org, alice, tmp_path, collector_binary):
    """Daphne, a Celery worker, the sink and a log file; stopped after the test."""
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1)
    worker = CeleryWorker(f"{redis_prefix}-tasks", FLOWGATE_ROLLOUT_TICK_SECONDS=0.5)
    sink = Sink()
    log = tmp_path / "app.log"
    log.write_text("")
    yield {"daphne": daphne, "worker": worker, "sink": sink, "log": log}
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
