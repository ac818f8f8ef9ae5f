"""The portal's address as an agent reaches it, for URLs offered to agents over OpAMP.

OpAMP's ConnectionSettingsOffers carry URLs the agent must use (`OpAMPConnectionSettings.destination_endpoint`
MUST be a non-empty WebSocket or HTTP URL; `TelemetryConnectionSettings.destination_endpoint` for own
telemetry). The right one is the address the agent already reaches the portal through, which only the
operator or the agent's own connection knows (proxies, load balancers, port 4320 beside 8000):

1. `FLOWGATE_OPAMP_PUBLIC_URL`, when set (validated at start: `check_public_url()`);
2. otherwise the agent's connection: the Host header it sent, https/wss only when the connection is
   TLS or Django's SECURE_PROXY_SSL_HEADER is configured and the request carries it with its value.
   No other X-Forwarded-* header is read: anyone can send them.

`base_url()` is the portal's root as the agent reaches it (`https://host[:port][/prefix]`); every agent
URL is derived from it (`opamp_endpoint()`, and `base + "/v1/metrics"` for own telemetry). Computed
once per WebSocket connection and cheaply per HTTP request (cached on its inputs): no query.
"""

import functools
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port, validate_host

SCHEMES = ("ws", "wss", "http", "https")
HTTP_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
WS_SCHEME = {"http": "ws", "https": "wss"}


def check_public_url(value: str) -> None:
    """ImproperlyConfigured unless `value` is empty or a ws/wss/http/https URL with a host (run at start)."""
    if not value:
        return
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as error:
        raise ImproperlyConfigured(f"FLOWGATE_OPAMP_PUBLIC_URL {value!r} is not a URL: {error}") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ImproperlyConfigured(
            f"FLOWGATE_OPAMP_PUBLIC_URL must be a ws://, wss://, http:// or https:// URL with a host, not {value!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ImproperlyConfigured(f"FLOWGATE_OPAMP_PUBLIC_URL must have no query, fragment or credentials: {value!r}")


def base_url(*, secure: bool, host: str) -> str:
    """The portal's root as the agent reaches it: from FLOWGATE_OPAMP_PUBLIC_URL, else `secure` and `host`.

    With the setting, its path without the OpAMP path (`/v1/opamp`) is the prefix under which the
    portal's agent endpoints are reached; a setting with another path is the OpAMP endpoint itself
    (a proxy rewriting paths) and the root is its origin.
    """
    return _base_url(settings.FLOWGATE_OPAMP_PUBLIC_URL, settings.FLOWGATE_OPAMP_PATH, secure, host)


@functools.lru_cache(maxsize=256)
def _base_url(public_url: str, opamp_path: str, secure: bool, host: str) -> str:
    if public_url:
        parts = urlsplit(public_url)
        path = parts.path.rstrip("/")
        prefix = path[: -len(opamp_path)] if path.endswith(opamp_path) else ""
        return f"{HTTP_SCHEME[parts.scheme]}://{parts.netloc}{prefix}"
    return f"{'https' if secure else 'http'}://{host}"


def opamp_endpoint(*, websocket: bool, secure: bool, host: str) -> str:
    """OpAMPConnectionSettings.destination_endpoint for an agent on this transport (ws/wss or http/https).

    The transport stays the agent's own: FLOWGATE_OPAMP_PUBLIC_URL gives host, port and path, and a
    WebSocket agent gets its ws/wss form, a plain-HTTP agent its http/https form.
    """
    return _opamp_endpoint(settings.FLOWGATE_OPAMP_PUBLIC_URL, settings.FLOWGATE_OPAMP_PATH, websocket, secure, host)


@functools.lru_cache(maxsize=256)
def _opamp_endpoint(public_url: str, opamp_path: str, websocket: bool, secure: bool, host: str) -> str:
    if public_url:
        parts = urlsplit(public_url)
        path = parts.path.rstrip("/") or opamp_path
        url = f"{HTTP_SCHEME[parts.scheme]}://{parts.netloc}{path}"
    else:
        url = _base_url("", opamp_path, secure, host) + opamp_path
    if websocket:
        scheme, rest = url.split("://", 1)
        url = f"{WS_SCHEME[scheme]}://{rest}"
    return url


def request_endpoint(request) -> str:
    """destination_endpoint for a plain-HTTP OpAMP request (Django validated its Host against ALLOWED_HOSTS)."""
    if settings.FLOWGATE_OPAMP_PUBLIC_URL:
        return opamp_endpoint(websocket=False, secure=True, host="")
    return opamp_endpoint(websocket=False, secure=request.is_secure(), host=request.get_host())


def scope_endpoint(scope) -> str:
    """destination_endpoint for an OpAMP WebSocket, from its ASGI scope (computed once, at connect)."""
    if settings.FLOWGATE_OPAMP_PUBLIC_URL:
        return opamp_endpoint(websocket=True, secure=True, host="")
    return opamp_endpoint(websocket=True, secure=scope_is_secure(scope), host=scope_host(scope))


def scope_is_secure(scope) -> bool:
    """TLS to the server (wss), or SECURE_PROXY_SSL_HEADER configured and sent with its value (as Django reads it)."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    meta_name, secure_value = proxy_header
    wanted = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1").split(",", 1)[0].strip() == secure_value
    return False


def scope_host(scope) -> str:
    """The Host header of the handshake when ALLOWED_HOSTS allows it, else the address the server listens on."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1").strip()
            domain, _port = split_domain_port(host)
            if domain and validate_host(domain, _allowed_hosts()):
                return host
            break
    server = scope.get("server") or ("localhost", None)
    address, port = server[0], server[1]
    address = f"[{address}]" if ":" in address else address
    return address if port is None else f"{address}:{port}"


def _allowed_hosts():
    """ALLOWED_HOSTS as Django's own Host check applies it (DEBUG with none set allows local names)."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        return [".localhost", "127.0.0.1", "[::1]"]
    return allowed
