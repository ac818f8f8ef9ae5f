"""DRF throttles on core_app.ratelimit's shared counters (docs/security.md, "Rate limits and lockout").

DRF's own SimpleRateThrottle keeps a list of timestamps per client in the cache and rewrites it on
every request (not atomic across server processes); these count with one cache `incr` instead.
An answer over the limit is DRF's 429 with Retry-After (the seconds left in the window).
"""

from rest_framework.throttling import BaseThrottle

from core_app import ratelimit


class RateThrottle(BaseThrottle):
    """Counts requests per `ident(request)` in `bucket` against the rate of the setting `rate_setting`."""

    bucket = ""
    rate_setting = ""

    def ident(self, request):
        return ratelimit.client_address(request)

    def applies_to(self, request):
        return True

    def allow_request(self, request, view):
        if not self.applies_to(request):
            return True
        verdict = ratelimit.hit(self.bucket, self.ident(request), ratelimit.setting_rate(self.rate_setting))
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self):
        return self.retry_after


class AnonThrottle(RateThrottle):
    """Requests without a signed-in user or API token, per client address (FLOWGATE_API_ANON_RATE)."""

    bucket = "api-anon"
    rate_setting = "FLOWGATE_API_ANON_RATE"

    def applies_to(self, request):
        return not request.user.is_authenticated


class UserThrottle(RateThrottle):
    """Requests of one user, whatever the address, session or token (FLOWGATE_API_USER_RATE)."""

    bucket = "api-user"
    rate_setting = "FLOWGATE_API_USER_RATE"

    def applies_to(self, request):
        return request.user.is_authenticated

    def ident(self, request):
        return str(request.user.pk)


class EnrollmentThrottle(RateThrottle):
    """Enrollment requests per client address, valid token or not (FLOWGATE_ENROLLMENT_RATE)."""

    bucket = "enrollment"
    rate_setting = "FLOWGATE_ENROLLMENT_RATE"


class GatewayPollThrottle(RateThrottle):
    """Gateway heartbeats per client address: the OpAMP admission rate (FLOWGATE_OPAMP_CONNECT_RATE).

    A fleet behind one NAT polls from one address, so this is as generous as OpAMP's admission.
    """

    bucket = "opamp-connect"
    rate_setting = "FLOWGATE_OPAMP_CONNECT_RATE"
