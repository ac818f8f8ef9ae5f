"""Rate limits shared by all server processes: fixed-window counters in the cache (docs/security.md).

The cache is Redis (django-redis) in production, so a limit holds across server processes; on the
embedded defaults it is the local-memory cache of the one process. A counter is one cache key per
(bucket, client, window) that expires with its window; `incr` is atomic on both backends.

Rates are written like DRF's: "100/m", "30/15m", "6000/minute"; "off" means no limit. Functions
here do cache I/O: async code calls them through sync_to_async, never on the event loop.

The client a limit counts is client_address(): REMOTE_ADDR (Daphne's peer address), or behind
trusted proxies the address the outermost trusted proxy saw (FLOWGATE_CLIENT_IP_HEADER,
FLOWGATE_TRUSTED_PROXY_COUNT).
"""

import ipaddress
import logging
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# First part of every counter's key; the tests give each test a namespace of its own.
NAMESPACE = "ratelimit"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@dataclass(frozen=True)
class Verdict:
    """What a counter says: whether to go on, the count so far and the seconds until the window ends."""

    allowed: bool
    count: int
    retry_after: int


ALLOW = Verdict(allowed=True, count=0, retry_after=0)


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate | None:
    """Rate of "N/period" (period: s, m, h, d, optionally with a multiple: "30/15m"); None for "off"."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    match = RATE.match(text.lower())
    if not match:
        raise ImproperlyConfigured(f"invalid rate {text!r}: write it like '100/m', '30/15m' or 'off'")
    count, multiple, unit = match.groups()
    return Rate(int(count), int(multiple or 1) * PERIODS[unit])


def setting_rate(name: str) -> Rate | None:
    """The rate of the setting `name` (a FLOWGATE_*_RATE)."""
    return parse_rate(getattr(settings, name))


def hit(bucket: str, client: str, rate: Rate | None, now: float | None = None) -> Verdict:
    """Count one event of `client` in `bucket`; allowed while the window's count stays within the rate."""
    if rate is None:
        return ALLOW
    key, retry_after = _window_key(bucket, client, rate, now)
    try:
        count = _increment(key, rate.seconds)
    except Exception:  # noqa: BLE001  (any cache failure: see _unavailable)
        return _unavailable(bucket)
    return Verdict(count <= rate.count, count, retry_after)


def peek(bucket: str, client: str, rate: Rate | None, now: float | None = None) -> Verdict:
    """Whether `client` is still under the rate in `bucket` (the count stays as it is)."""
    if rate is None:
        return ALLOW
    key, retry_after = _window_key(bucket, client, rate, now)
    try:
        count = cache.get(key, 0)
    except Exception:  # noqa: BLE001
        return _unavailable(bucket)
    return Verdict(count < rate.count, count, retry_after)


def clock() -> float:
    """The time windows are counted in (tests pin it, so two requests never straddle a window's end)."""
    return time.time()


def _window_key(bucket, client, rate, now):
    now = clock() if now is None else now
    window = int(now // rate.seconds)
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return f"{NAMESPACE}:{bucket}:{client}:{window}", retry_after


def _increment(key, seconds):
    try:
        return cache.incr(key)
    except ValueError:  # the window's first event
        if cache.add(key, 1, timeout=seconds + 1):
            return 1
        return cache.incr(key)  # another process started the window meanwhile


def _unavailable(bucket):
    # A limit that cannot be counted lets the request through: a cache outage must not lock
    # everyone out of sign-in, the API and OpAMP.
    logger.warning("rate limit %s not counted: the cache failed", bucket, exc_info=True)
    return ALLOW


def client_address(request) -> str:
    """The client address of a Django (or DRF) request."""
    header = settings.FLOWGATE_CLIENT_IP_HEADER
    forwarded = ""
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    return _choose(request.META.get("REMOTE_ADDR", ""), forwarded)


def scope_address(scope) -> str:
    """The client address of an ASGI scope (a WebSocket handshake)."""
    header = settings.FLOWGATE_CLIENT_IP_HEADER.lower().encode("latin-1")
    forwarded = ""
    if header:
        for name, value in scope.get("headers", []):
            if name == header:
                forwarded = value.decode("latin-1")
    peer = scope.get("client") or ("",)
    return _choose(peer[0] or "", forwarded)


def _choose(peer: str, forwarded: str) -> str:
    """The peer, or the forwarded entry FLOWGATE_TRUSTED_PROXY_COUNT places from the right.

    Each trusted proxy appends the address it saw; entries left of those came from the client
    and may be forged. A request with fewer entries did not pass all proxies: its peer counts.
    """
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    count = settings.FLOWGATE_TRUSTED_PROXY_COUNT
    if forwarded and 0 < count <= len(hops) and _is_address(hops[-count]):
        return hops[-count]
    return peer or "unknown"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
