"""Enrollment: a gateway presents a registration token and gets its identity and OpAMP token.

Like every service, it writes an audit entry and accepts `now=` so that tests can fix the clock.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from core_app import audit
from gateways_app import tokens
from gateways_app.models import Gateway, GatewayMode, OpAMPToken
from gateways_app.services import get_or_create_tags, new_opamp_token, parse_tag, revoke_live_opamp_tokens


class EnrollmentConflict(Exception):
    """Enrollment would clash with an existing gateway. `str(error)` is safe to show."""


@dataclass
class Enrollment:
    """What `enroll()` returns: the gateway, its new OpAMP token and the token's JWT (shown once)."""

    gateway: Gateway
    opamp_token: OpAMPToken
    opamp_jwt: str
    re_enrolled: bool


def enroll(
    raw_token,
    *,
    name,
    hostname="",
    mode=GatewayMode.SUPERVISOR,
    instance_uid=None,
    tags=(),
    ip=None,
    now=None,
    agent_type="",
    agent_version="",
):
    """Enroll a gateway with a registration JWT; returns an Enrollment.

    Creates the gateway in the token's organization, or re-enrolls the gateway of that
    organization with the same name or the same instance_uid (its old OpAMP tokens are
    revoked, its tags kept and added to). Re-enrolling takes over the gateway's identity, so it
    needs a token created with `allow_re_enroll` (else EnrollmentConflict), except for a retry of
    an enrollment whose answer was lost (see `_may_re_enroll`). `tags` are "key=value" strings; the token's own
    tags are added. Without `instance_uid`, a re-enrolled gateway's uid is cleared: the
    OpAMP server records the one the agent presents on its first connection.
    `agent_type`/`agent_version`, when given, are recorded until the agent reports its own.

    Raises TokenError (refused token), EnrollmentConflict or ValidationError; in every case
    nothing is written (the token's use count included).
    """
    now = now or timezone.now()
    pairs = [parse_tag(text) for text in tags]
    with transaction.atomic():
        token = tokens.verify_registration_token(raw_token, now, lock=True)
        token.uses += 1
        token.save(update_fields=["uses"])
        org = token.organization
        gateway = _find_existing(org, name, instance_uid)
        re_enrolled = gateway is not None
        previous = _identity_of(gateway) if re_enrolled else None
        if re_enrolled and not _may_re_enroll(token, gateway, name, instance_uid):
            raise EnrollmentConflict(RE_ENROLL_REFUSED.format(name=gateway.name))
        gateway = gateway or Gateway(organization=org)
        _apply_enrollment(
            gateway,
            name=name,
            hostname=hostname,
            mode=mode,
            instance_uid=instance_uid,
            agent_type=agent_type,
            agent_version=agent_version,
        )
        if re_enrolled:
            revoke_live_opamp_tokens(gateway, now)
        gateway.tags.add(*get_or_create_tags(org, pairs), *token.tags.all())
        opamp_token, opamp_jwt = new_opamp_token(gateway, now)
        action = "gateway.re_enrolled" if re_enrolled else "gateway.enrolled"
        changes = {"registration_token": str(token.pk), "hostname": hostname, "mode": mode}
        if re_enrolled:
            changes["previous"] = previous
        audit.record(org, action, gateway, gateway=gateway, ip=ip, changes=changes)
    return Enrollment(gateway, opamp_token, opamp_jwt, re_enrolled)


RE_ENROLL_REFUSED = (
    "A gateway named {name!r} (or with this instance_uid) is already enrolled in this organization. "
    "To enroll under its identity (a gateway that lost its state), use a registration token that "
    "allows re-enrollment; otherwise choose another name."
)


def _may_re_enroll(token, gateway, name, instance_uid):
    """Whether this enrollment may take over `gateway`'s identity.

    Only with a token that allows re-enrollment, or when it repeats the enrollment that created a
    gateway which never connected (same name and instance_uid, never seen): the supervisor retries with the
    same body when the first answer was lost, and nothing could have been taken over yet.
    """
    if token.allow_re_enroll:
        return True
    same_body = gateway.name == name and instance_uid is not None and gateway.instance_uid == instance_uid
    return same_body and gateway.last_seen is None


def _identity_of(gateway):
    """What the audit entry of a re-enrollment records about the gateway before it."""
    return {
        "name": gateway.name,
        "instance_uid": gateway.instance_uid.hex if gateway.instance_uid else None,
        "hostname": gateway.hostname,
        "status": gateway.status,
        "last_seen": gateway.last_seen.isoformat() if gateway.last_seen else None,
    }


def _find_existing(org, name, instance_uid):
    """The gateway a re-enrollment refers to, or None; EnrollmentConflict when ambiguous."""
    candidates = Gateway.objects.select_for_update().filter(organization=org, name=name)
    by_name = candidates.first()
    by_uid = None
    if instance_uid is not None:
        by_uid = Gateway.objects.select_for_update().filter(instance_uid=instance_uid).first()
        if by_uid is not None and by_uid.organization_id != org.pk:
            raise EnrollmentConflict("This instance_uid is already enrolled in another organization.")
    if by_name is not None and by_uid is not None and by_name.pk != by_uid.pk:
        raise EnrollmentConflict(
            f"The name {name!r} and this instance_uid belong to two different gateways; "
            "rename the gateway or give the instance_uid of the gateway with that name."
        )
    return by_name or by_uid


def _apply_enrollment(gateway, *, name, hostname, mode, instance_uid, agent_type="", agent_version=""):
    gateway.name = name
    gateway.hostname = hostname or ""
    gateway.mode = mode
    gateway.instance_uid = instance_uid
    if agent_type:
        gateway.agent_type = agent_type
    if agent_version:
        gateway.agent_version = agent_version
    gateway.full_clean(validate_unique=False, validate_constraints=False)
    try:
        # A savepoint: a racing enrollment of the same name or uid (with another token) is a conflict.
        with transaction.atomic():
            gateway.save()
    except IntegrityError:
        raise EnrollmentConflict("Another gateway with this name or instance_uid was enrolled at the same time.")
