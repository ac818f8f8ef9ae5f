"""Registration and OpAMP tokens: HS256 JWTs whose `jti` is stored on a database row.

Claim layout (every claim is required on verification):

    iss  settings.JWT_ISSUER
    aud  "flowgate:registration" or "flowgate:opamp" (tells the two kinds apart)
    sub  str(RegistrationToken.id) or str(Gateway.id)
    org  str(Organization.id)
    jti  random id, equal to the row's `jti`
    iat  issue time (integer seconds since the epoch)
    exp  expiry (integer seconds since the epoch), equal to the row's `expires_at`

A signature alone is never enough: after the JWT checks, the row named by `jti` must
exist, match `sub` and `org`, and be neither revoked nor expired (nor, for an OpAMP token replaced
by a newer one, past its grace period). Tokens are secrets:
nothing here logs them or puts them in an error message.
"""

import secrets

import jwt
from django.conf import settings
from django.utils import timezone

from gateways_app.models import OpAMPToken, RegistrationToken

AUD_REGISTRATION = "flowgate:registration"
AUD_OPAMP = "flowgate:opamp"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "org", "jti", "iat", "exp"]
# Tolerated clock difference for `iat` between this server and whoever signed (us, on another node).
CLOCK_SKEW_SECONDS = 60


class TokenError(Exception):
    """A token was refused. `str(error)` is a short message safe to show the caller."""


def new_jti():
    """A random JWT id (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def token_times(now, lifetime):
    """(issued_at, expires_at) truncated to whole seconds, as they are stored in the JWT."""
    issued_at = now.replace(microsecond=0)
    return issued_at, issued_at + lifetime


def encode(*, audience, subject, org_id, jti, issued_at, expires_at):
    """Sign a token with the claim layout above."""
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": audience,
        "sub": str(subject),
        "org": str(org_id),
        "jti": jti,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm=ALGORITHM)


_JWT_ERRORS = [
    (jwt.InvalidAudienceError, "wrong token type"),
    (jwt.InvalidIssuerError, "wrong token issuer"),
    (jwt.InvalidSignatureError, "invalid signature"),
    (jwt.InvalidAlgorithmError, "unsupported token algorithm"),
    (jwt.MissingRequiredClaimError, "malformed token: a required claim is missing"),
]


def decode(raw, audience, now=None):
    """Check signature, algorithm, issuer, audience, required claims and expiry; return the claims.

    Does not look at the database: use the verify_* functions for that.
    """
    if not raw or not isinstance(raw, str):
        raise TokenError("missing token")
    try:
        claims = jwt.decode(
            raw,
            settings.JWT_SIGNING_KEY,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=settings.JWT_ISSUER,
            # Times are checked below against `now` so that callers (and tests) can fix the clock.
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False, "strict_aud": True},
        )
    except jwt.PyJWTError as error:
        for error_class, message in _JWT_ERRORS:
            if isinstance(error, error_class):
                raise TokenError(message) from None
        raise TokenError("malformed token") from None
    _check_times(claims, now or timezone.now())
    if not isinstance(claims["org"], str):
        raise TokenError("malformed token")
    return claims


def _check_times(claims, now):
    if not all(isinstance(claims[name], int) and not isinstance(claims[name], bool) for name in ("iat", "exp")):
        raise TokenError("malformed token")
    if claims["exp"] <= now.timestamp():
        raise TokenError("token expired")
    if claims["iat"] > now.timestamp() + CLOCK_SKEW_SECONDS:
        raise TokenError("token not yet valid")


def _check_row(row, claims, now, *, owner_id):
    """The checks every token row gets: it matches the JWT, is not revoked, not expired."""
    if row is None:
        raise TokenError("unknown token")
    if claims["sub"] != str(owner_id) or claims["org"] != str(row.organization.pk):
        raise TokenError("token does not match its record")
    if row.revoked_at is not None:
        raise TokenError("token revoked")
    if row.expires_at <= now or int(row.expires_at.timestamp()) != claims["exp"]:
        raise TokenError("token expired")


def verify_registration_token(raw, now=None, *, lock=False):
    """The live RegistrationToken row for a registration JWT, or TokenError.

    With `lock=True` the row is locked with SELECT … FOR UPDATE (call inside transaction.atomic),
    so that concurrent enrollments count uses one at a time.
    """
    now = now or timezone.now()
    claims = decode(raw, AUD_REGISTRATION, now)
    rows = RegistrationToken.objects.select_related("organization")
    if lock:
        rows = rows.select_for_update(of=("self",))
    row = rows.filter(jti=claims["jti"]).first()
    _check_row(row, claims, now, owner_id=row.pk if row else None)
    if row.uses >= row.max_uses:
        raise TokenError("token used up")
    return row


def verify_opamp_token(raw, now=None, annotations=None):
    """The live OpAMPToken for an OpAMP JWT, with `.gateway`, its organization and settings loaded.

    One database query: it runs on every OpAMP connection and plain-HTTP OpAMP request. `annotations`
    ({name: expression}) are added to it: what a layer above needs of the gateway in the same query
    (opamp_app/own_metrics.py: the gateway's telemetry credential).
    """
    now = now or timezone.now()
    claims = decode(raw, AUD_OPAMP, now)
    # The organization's settings (heartbeat interval) and the token being offered to the gateway
    # (rotation) come along: the OpAMP server needs nothing else.
    rows = OpAMPToken.objects.select_related("gateway__organization__settings", "gateway__offered_opamp_token")
    if annotations:
        rows = rows.annotate(**annotations)
    row = rows.filter(jti=claims["jti"]).first()
    _check_row(row, claims, now, owner_id=row.gateway_id if row else None)
    if row.grace_until is not None and row.grace_until <= now:
        raise TokenError("token replaced by a newer one")
    return row


def opamp_jwt(row, gateway):
    """The JWT of `gateway`'s OpAMPToken row, signed again from the row: the same text as when it was issued.

    HS256 over the same claims gives the same signature, so a token being offered to a gateway
    (rotation, resent on every reconnection until used) is never stored, only its row.
    """
    return encode(
        audience=AUD_OPAMP,
        subject=gateway.pk,
        org_id=gateway.organization_id,
        jti=row.jti,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
    )
