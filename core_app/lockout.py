"""Sign-in lockout on /login/ and /admin/login/ (docs/security.md, "Rate limits and lockout").

django-axes counts failed sign-ins per username and client address together: after
FLOWGATE_LOGIN_FAILURE_LIMIT of them the pair is locked for FLOWGATE_LOGIN_COOLOFF_SECONDS (each
further try restarts the cool-off), so a guesser cannot go on while the real user, from
another address, still can. LoginAttemptHandler adds a limit per address whatever the usernames
(FLOWGATE_LOGIN_CLIENT_FAILURE_RATE): one address trying many accounts. The counters are in the
cache, shared by all server processes. The answer is 429 with Retry-After and a page that says
why and for how long.
"""

import math

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cool_off
from django.shortcuts import render

from core_app import ratelimit

CLIENT_FAILURES = "login-failures"


def _client_rate():
    return ratelimit.setting_rate("FLOWGATE_LOGIN_CLIENT_FAILURE_RATE")


class NamespacedCache:
    """The cache as Axes' handler uses it, with keys under ratelimit.NAMESPACE like every other counter."""

    def __init__(self, cache):
        self.cache = cache

    def key(self, key):
        return f"{ratelimit.NAMESPACE}:{key}"

    def get(self, key, default=None):
        return self.cache.get(self.key(key), default)

    def add(self, key, value, timeout):
        return self.cache.add(self.key(key), value, timeout)

    def incr(self, key, delta=1):
        return self.cache.incr(self.key(key), delta)

    def touch(self, key, timeout):
        return self.cache.touch(self.key(key), timeout)

    def delete(self, key):
        return self.cache.delete(self.key(key))


class LoginAttemptHandler(AxesCacheHandler):
    """Axes' cache handler plus the per-address limit on failed sign-ins."""

    def __init__(self):
        super().__init__()
        self.cache = NamespacedCache(self.cache)

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return not ratelimit.peek(CLIENT_FAILURES, ratelimit.client_address(request), _client_rate()).allowed

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        rate = _client_rate()
        verdict = ratelimit.hit(CLIENT_FAILURES, ratelimit.client_address(request), rate)
        if rate is not None and verdict.count >= rate.count:
            # This failure reached the address's limit: answer it with the lockout page already.
            request.axes_locked_out = True
            request.axes_credentials = credentials


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429, Retry-After and the lockout page."""
    by_client = ratelimit.peek(CLIENT_FAILURES, ratelimit.client_address(request), _client_rate())
    if not by_client.allowed:
        seconds = by_client.retry_after
    else:
        seconds = int(get_cool_off(request).total_seconds())
    context = {"minutes": max(1, math.ceil(seconds / 60)), "by_client": not by_client.allowed}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def client_ip(request):
    """AXES_CLIENT_IP_CALLABLE: the same client address as every other limit."""
    return ratelimit.client_address(request)
