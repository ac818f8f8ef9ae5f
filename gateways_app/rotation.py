"""OpAMP token rotation through OpAMP connection settings offers (docs/opamp.md, "Token rotation").

Re-issuing the token of a gateway whose agent announces AcceptsOpAMPConnectionSettings does not
cut it off:

1. rotate(): a new token; the gateway's live tokens keep working until `grace_until` (now + the
   organization's opamp_token_grace_minutes); Gateway.offered_opamp_token names the new one.
   After the commit the OpAMP server offers it (the `Authorization` header, in
   ConnectionSettingsOffers.opamp) on the gateway's open connections (signal
   opamp_token_offered); a connection opened later is offered it at once (the token row comes
   with the authentication query) — on every connection until the agent uses it.
2. The agent saves it and reconnects with it: complete() (called by the OpAMP server's
   authentication) revokes the replaced tokens, which closes the old connections, clears the
   offer and records the rotation. A gateway that never uses it loses the old token at
   `grace_until`.

Revoking (services.revoke_live_opamp_tokens) stays the kill switch: it revokes the offered token
too and withdraws the offer. rotate_expiring() is the scheduled rotation, through the same path.
Every step is audited.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core_app import audit
from core_app.models import OrgSettings
from core_app.services import get_org_settings
from gateways_app.models import Gateway, OpAMPToken
from gateways_app.services import new_opamp_token, revoke_live_opamp_tokens
from gateways_app.signals import opamp_token_offered, opamp_tokens_revoked
from opamp_core.offers import accepts_opamp_settings

logger = logging.getLogger(__name__)

# opamp_token_rotate_days of an organization without a settings row (the field's default).
DEFAULT_ROTATE_DAYS = OrgSettings._meta.get_field("opamp_token_rotate_days").default


def can_rotate(gateway) -> bool:
    """Whether the gateway's agent takes a new token over OpAMP (AcceptsOpAMPConnectionSettings)."""
    return accepts_opamp_settings(gateway.capabilities)


def grace_end(gateway):
    """When the gateway's replaced tokens stop working (the latest grace_until of its live tokens), or None."""
    live = OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=True, grace_until__isnull=False)
    return live.order_by("-grace_until").values_list("grace_until", flat=True).first()


@transaction.atomic
def rotate(gateway, *, user=None, reason="reissued", now=None):
    """Offer the gateway a new OpAMP token; its live tokens work until the grace period ends.

    Returns (OpAMPToken, jwt). `reason` ("reissued", "scheduled") goes to the audit entry. A
    scheduled rotation shortens nothing: the replaced token works until it expires anyway (a
    gateway offline for longer than the grace period is not cut off by a rotation it never saw).
    """
    now = now or timezone.now()
    locked = Gateway.objects.select_for_update().select_related("organization").get(pk=gateway.pk)
    org = locked.organization
    grace_until = now + timedelta(minutes=get_org_settings(org).opamp_token_grace_minutes)
    # Tokens already in a grace period (an earlier rotation) keep its end.
    replaced_rows = OpAMPToken.objects.filter(
        gateway=locked, revoked_at__isnull=True, grace_until__isnull=True, expires_at__gt=now
    )
    if reason == "scheduled":
        replaced = replaced_rows.update(grace_until=F("expires_at"))
    else:
        replaced = replaced_rows.update(grace_until=grace_until)
    row, raw = new_opamp_token(locked, now)
    Gateway.objects.filter(pk=locked.pk).update(offered_opamp_token=row, updated_at=now)
    gateway.offered_opamp_token = row
    changes = {"token": str(row.pk), "reason": reason, "replaced": replaced}
    if reason != "scheduled":
        changes["grace_until"] = grace_until.isoformat()
    audit.record(org, "gateway.token_rotation_started", locked, user=user, changes=changes)
    gateway_id = locked.pk
    # robust: the rotation stands if the channel layer is down; the agent is offered the token when it reconnects.
    transaction.on_commit(lambda: opamp_token_offered.send(sender=Gateway, gateway_id=gateway_id), robust=True)
    return row, raw


@transaction.atomic
def complete(gateway, token, now=None) -> bool:
    """The agent connected with `token`, the one offered to it: the rotation is done. True if this call did it.

    The tokens it replaced are revoked (their connections close), the offer is withdrawn.
    """
    now = now or timezone.now()
    locked = Gateway.objects.select_for_update().select_related("organization").get(pk=gateway.pk)
    if locked.offered_opamp_token_id != token.pk:
        return False  # another connection completed it, or the offer was withdrawn
    revoked = (
        OpAMPToken.objects.filter(gateway=locked, revoked_at__isnull=True, grace_until__isnull=False)
        .exclude(pk=token.pk)
        .update(revoked_at=now)
    )
    Gateway.objects.filter(pk=locked.pk).update(offered_opamp_token=None, opamp_token_rotated_at=now)
    gateway.offered_opamp_token, gateway.opamp_token_rotated_at = None, now
    changes = {"token": str(token.pk), "revoked": revoked}
    audit.record(locked.organization, "gateway.token_rotated", locked, gateway=locked, changes=changes)
    if revoked:
        gateway_id = locked.pk
        transaction.on_commit(lambda: opamp_tokens_revoked.send(sender=Gateway, gateway_id=gateway_id), robust=True)
    return True


@transaction.atomic
def reissue(gateway, user, now=None):
    """Re-issue the gateway's OpAMP token; returns (OpAMPToken, jwt, rotated).

    rotated=True: the agent takes it over OpAMP (rotate()), nothing is cut off. Otherwise the
    old tokens are revoked at once (the gateway is cut off until it gets the new token or is
    re-enrolled: the page says how).
    """
    now = now or timezone.now()
    if can_rotate(gateway):
        row, raw = rotate(gateway, user=user, reason="reissued", now=now)
        return row, raw, True
    revoked = revoke_live_opamp_tokens(gateway, now)
    row, raw = new_opamp_token(gateway, now)
    changes = {"revoked": revoked, "token": str(row.pk)}
    audit.record(gateway.organization, "gateway.token_reissued", gateway, user=user, changes=changes)
    return row, raw, False


def rotate_expiring(now=None) -> int:
    """Scheduled rotation: gateways whose newest live token expires within their organization's
    opamp_token_rotate_days get a new one through rotate(). Returns how many were rotated.

    Gateways whose agent cannot take a token over OpAMP are left alone (logged): their token
    page says how to re-enroll them. One query per distinct setting in use, then one per gateway due.
    """
    now = now or timezone.now()
    days_in_use = set(
        OrgSettings.objects.filter(opamp_token_rotate_days__gt=0).values_list("opamp_token_rotate_days", flat=True)
    )
    groups = [(Q(gateway__organization__settings__opamp_token_rotate_days=days), days) for days in days_in_use]
    if DEFAULT_ROTATE_DAYS:
        groups.append((Q(gateway__organization__settings__isnull=True), DEFAULT_ROTATE_DAYS))
    rotated = 0
    for in_group, days in groups:
        horizon = now + timedelta(days=days)
        live = OpAMPToken.objects.filter(
            in_group, revoked_at__isnull=True, grace_until__isnull=True, expires_at__gt=now
        )
        fresh = live.filter(expires_at__gt=horizon).values("gateway_id")
        due = live.filter(expires_at__lte=horizon, gateway__offered_opamp_token__isnull=True).exclude(
            gateway_id__in=fresh
        )
        for gateway in Gateway.objects.filter(pk__in=due.values("gateway_id")).select_related("organization"):
            if not can_rotate(gateway):
                logger.info(
                    "OpAMP token of gateway %s expires soon; its agent cannot take a new one over OpAMP", gateway.pk
                )
                continue
            rotate(gateway, reason="scheduled", now=now)
            rotated += 1
    if rotated:
        logger.info("offered %d gateways a new OpAMP token before their token expires", rotated)
    return rotated
