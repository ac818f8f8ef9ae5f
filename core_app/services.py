"""Services of the core: organizations, memberships and personal API tokens."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core_app.models import ApiToken, Membership, Organization, OrgSettings

API_TOKEN_PREFIX = "fgu_"


@transaction.atomic
def create_organization(slug, name=None):
    """Create an organization with its settings row."""
    org = Organization.objects.create(slug=slug, name=name or slug)
    OrgSettings.objects.create(organization=org)
    return org


def get_org_settings(org):
    """The organization's settings, created with defaults on first use."""
    org_settings, _ = OrgSettings.objects.get_or_create(organization=org)
    return org_settings


def set_membership(org, user, role):
    """Make `user` a member of `org` with `role` (changing the role if already a member)."""
    membership, _ = Membership.objects.update_or_create(organization=org, user=user, defaults={"role": role})
    return membership


def _api_token_digest(token):
    key = hashlib.sha256(f"api-token:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def create_api_token(user, name="default", expires_at=None):
    """Create a personal API token; returns (ApiToken, plaintext). The plaintext is not stored."""
    plaintext = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plaintext[: len(API_TOKEN_PREFIX) + 6],
        digest=_api_token_digest(plaintext),
        expires_at=expires_at,
    )
    return token, plaintext


def find_api_token(plaintext, now=None):
    """The live ApiToken for this plaintext, or None."""
    if not plaintext.startswith(API_TOKEN_PREFIX):
        return None
    now = now or timezone.now()
    digest = _api_token_digest(plaintext)
    candidates = ApiToken.objects.filter(prefix=plaintext[: len(API_TOKEN_PREFIX) + 6]).select_related("user")
    for token in candidates:
        if hmac.compare_digest(token.digest, digest):
            if token.expires_at and token.expires_at <= now:
                return None
            if not token.user.is_active:
                return None
            # Touch at most once a minute: a busy script should not write on every request.
            if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            return token
    return None
