"""Extension mode: the collector speaks OpAMP itself; the supervisor only sends heartbeats.

Every heartbeat interval: `POST /api/v1/gateways/{id}/heartbeat` with the gateway's OpAMP
token and {status, version, uptime_seconds, config_hash}. status is "online", or "degraded"
when `--health-url` (e.g. the collector's health_check extension) does not answer 2xx. The
config hash is the SHA-256 of the collector's config file (`--base-config`), so the portal
can tell when it changed. Failures back off (honouring Retry-After).
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from gateway.backoff import Backoff, parse_retry_after

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15


class HeartbeatError(Exception):
    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


def collector_version(binary: str) -> str:
    """The version `<collector> --version` prints ('' without a usable binary)."""
    if not binary:
        return ""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=15, check=False)  # noqa: S603
    except OSError:
        return ""
    words = out.stdout.split()
    return words[-1] if words else ""


def file_hash(path: str) -> str:
    if not path:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


class HeartbeatService:
    def __init__(self, settings, identity):
        self.settings = settings
        self.identity = identity
        self.url = f"{settings.portal_url or identity.portal_url}/api/v1/gateways/{identity.gateway_id}/heartbeat"
        self.interval = settings.heartbeat_interval
        self.version = collector_version(settings.collector)
        self.started = time.monotonic()
        self.backoff = Backoff(initial=1, maximum=60)

    def body(self) -> dict:
        status = "online"
        if self.settings.health_url and not url_ok(self.settings.health_url):
            status = "degraded"
        return {
            "status": status,
            "version": self.version,
            "uptime_seconds": int(time.monotonic() - self.started),
            "config_hash": file_hash(self.settings.base_config),
        }

    def beat(self) -> dict:
        """Send one heartbeat; the portal's answer. HeartbeatError when it failed."""
        request = urllib.request.Request(  # noqa: S310  (the portal URL is the operator's setting)
            self.url,
            data=json.dumps(self.body()).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.identity.opamp_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode("utf-8", errors="replace")
            raise HeartbeatError(f"HTTP {error.code}: {detail}", parse_retry_after(error.headers.get("Retry-After")))
        except (urllib.error.URLError, OSError) as error:
            raise HeartbeatError(f"cannot reach the portal: {getattr(error, 'reason', error)}") from None

    async def run(self, stop_event: asyncio.Event) -> None:
        while not stop_event.is_set():
            try:
                answer = await asyncio.to_thread(self.beat)
                self.backoff.reset()
                self.interval = float(answer.get("heartbeat_interval_seconds") or self.interval)
                delay = self.interval
            except HeartbeatError as error:
                delay = self.backoff.next_delay(error.retry_after)
                logger.warning("heartbeat failed (%s); retrying in %.1fs", error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), delay)


def url_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (operator's URL)
            return 200 <= response.status < 300
    except Exception:  # noqa: BLE001  (unreachable or an error status: not healthy)
        return False
