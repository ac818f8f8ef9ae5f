"""Per-user API tokens: `Authorization: Token fgu_…` or `Authorization: Bearer fgu_…`.

Failed tokens are counted per client address (FLOWGATE_API_TOKEN_FAILURE_RATE): past the limit the
address gets 429 before any lookup, so scanning random tokens stops early (docs/security.md). A
lookup the database cannot answer propagates as OperationalError: 503, never a 401
(core_app/outage.py).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core_app import ratelimit
from core_app.services import API_TOKEN_PREFIX, find_api_token

FAILURES = "api-token-failures"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Authorization header must be 'Token <key>'."))
        plaintext = header[1]
        if not plaintext.startswith(API_TOKEN_PREFIX):
            # Not one of ours (e.g. a gateway's JWT); let endpoints with their own auth handle it.
            return None
        client = ratelimit.client_address(request)
        rate = ratelimit.setting_rate("FLOWGATE_API_TOKEN_FAILURE_RATE")
        verdict = ratelimit.peek(FAILURES, client, rate)
        if not verdict.allowed:
            raise exceptions.Throttled(verdict.retry_after, "Too many invalid API tokens from this address.")
        token = find_api_token(plaintext)
        if token is None:
            ratelimit.hit(FAILURES, client, rate)
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked API token."))
        return (token.user, token)

    def authenticate_header(self, request):
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes API tokens in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Personal API token: `Token fgu_…` (or `Bearer fgu_…`). Create one with "
            "`python manage.py createapitoken <username>`.",
        }
