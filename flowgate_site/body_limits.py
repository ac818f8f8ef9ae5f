"""The largest request body each path accepts, as `python -m flowgate_site.serve` enforces it.

Why in the server and not in Django: Daphne (through Twisted) receives a request's whole body
before it creates the application, then queues all of it for the application at once. A 2 GiB
body sent to /v1/opamp without a token was held in full before authentication could say 401.
flowgate_site.http_channel asks this table for the limit of each request's path once its headers
are in, and refuses a body over it while it arrives (docs/security.md "Request body limits").

Plain Python, no Twisted: settings are parsed here, the channel only asks `limit_for(target)`.
"""

from dataclasses import dataclass
from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class BodyLimits:
    """A default limit and (path prefix, limit) pairs, the longest prefix first."""

    default: int
    prefixes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, items, default):
        """From "prefix=bytes" items (FLOWGATE_REQUEST_BODY_LIMITS); ImproperlyConfigured names a bad one."""
        pairs = [parse_item(item) for item in items]
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        return cls(default=positive(default, "FLOWGATE_REQUEST_BODY_DEFAULT_BYTES"), prefixes=tuple(pairs))

    @classmethod
    def from_settings(cls):
        from django.conf import settings

        return cls.parse(settings.FLOWGATE_REQUEST_BODY_LIMITS, settings.FLOWGATE_REQUEST_BODY_DEFAULT_BYTES)

    def limit_for(self, target: bytes) -> int:
        """The limit of a request target as received (`/path?query`), in bytes of body."""
        path = request_path(target)
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default


def request_path(target: bytes) -> str:
    """The path the application will route on: Daphne passes the target's path percent-decoded.

    Decoding first means /v1/%6fpamp, which Django routes to /v1/opamp, gets /v1/opamp's limit.
    """
    path = target.split(b"?", 1)[0]
    return unquote(path.decode("latin-1"))


def parse_item(item):
    prefix, separator, value = item.partition("=")
    prefix = prefix.strip()
    if not separator or not prefix.startswith("/"):
        raise ImproperlyConfigured(f"FLOWGATE_REQUEST_BODY_LIMITS: {item!r} is not '/path/prefix=bytes'")
    return prefix, positive(value.strip(), f"FLOWGATE_REQUEST_BODY_LIMITS ({prefix})")


def positive(value, name):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ImproperlyConfigured(f"{name}: {value!r} is not a number of bytes (1 or more)")
    return number
