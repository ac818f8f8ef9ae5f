"""OpAMP endpoints offered by the server (OpAMPConnectionSettings.destination_endpoint), as the client checks them.

Plain standard library: the supervisor imports no Django (tests/gateway/test_no_django.py).
"""

import urllib.parse

WS_FORM = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
HTTP_FORM = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}
SECURE = {"wss", "https"}


def endpoint_form(url: str, transport: str) -> str:
    """`url` in the scheme of `transport`: ws/wss for "websocket", http/https for "http"."""
    scheme, rest = url.split("://", 1)
    forms = HTTP_FORM if transport == "http" else WS_FORM
    return f"{forms[scheme.lower()]}://{rest}"


def endpoint_problem(url: str, current: str) -> str:
    """Why an offered endpoint is refused ('' when it can be tried): not ws/wss/http/https, or dropping TLS."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return f"the offered endpoint {url!r} is not a URL"
    if parts.scheme.lower() not in WS_FORM or not parts.hostname:
        return f"the offered endpoint {url!r} is not a WebSocket or HTTP URL"
    if urllib.parse.urlsplit(current).scheme.lower() in SECURE and parts.scheme.lower() not in SECURE:
        return f"the offered endpoint {url!r} would drop TLS (connected to {current})"
    return ""


def same_endpoint(first: str, second: str) -> bool:
    """Whether two URLs name the same endpoint: scheme and host case, default ports and a trailing slash aside."""

    def key(url):
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, parts.hostname, parts.port or DEFAULT_PORTS.get(scheme), parts.path.rstrip("/"), parts.query

    try:
        return key(first) == key(second)
    except ValueError:
        return False
