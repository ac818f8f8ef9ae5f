"""Services of the gateways app: tags, tokens and gateway state changes (enrollment: gateways_app.enrollment).

Every function here that changes state writes an audit entry. Functions accept `now=`
so that tests can fix the clock.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core_app import audit
from core_app.services import get_org_settings
from gateways_app import tokens
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken, RegistrationToken, Tag
from gateways_app.signals import desired_config_changed, opamp_tokens_revoked, restart_requested
from opamp_core.messages import can_restart


def parse_tag(text):
    """("key", "value") from "key=value"; ValidationError naming the problem otherwise."""
    if not isinstance(text, str) or "=" not in text:
        raise ValidationError(f"Tags are written 'key=value'; got {str(text)[:80]!r}.")
    key, value = text.split("=", 1)
    tag = Tag(key=key.strip(), value=value.strip())
    try:
        tag.clean_fields(exclude=["organization"])
    except ValidationError as error:
        raise ValidationError(f"{text[:80]!r}: " + " ".join(error.messages)) from None
    return tag.key, tag.value


def get_or_create_tags(org, pairs):
    """The org's Tag rows for (key, value) pairs, creating the missing ones."""
    return [Tag.objects.get_or_create(organization=org, key=key, value=value)[0] for key, value in pairs]


def _as_timedelta(ttl):
    if ttl is None or isinstance(ttl, timedelta):
        return ttl
    return timedelta(seconds=int(ttl))


def resolve_tags(org, tags):
    """Tag rows of `org` from Tag rows and/or "key=value" strings (missing ones are created).

    A Tag row of another organization is a ValidationError.
    """
    rows = []
    for tag in tags:
        if isinstance(tag, Tag):
            if tag.organization_id != org.pk:
                raise ValidationError({"tags": f"Tag {tag} belongs to another organization."})
            rows.append(tag)
        else:
            rows.extend(get_or_create_tags(org, [parse_tag(tag)]))
    return rows


@transaction.atomic
def save_new_registration_token(row, *, created_by, ttl=None, tags=(), now=None):
    """Sign and save an unsaved RegistrationToken (organization, name, max_uses set); return the JWT.

    `ttl` (timedelta or seconds) defaults to the organization's registration token lifetime.
    `tags` are Tag rows of the organization or "key=value" strings; gateways enrolled with
    this token get them.
    """
    now = now or timezone.now()
    org = row.organization
    ttl = _as_timedelta(ttl) or timedelta(hours=get_org_settings(org).registration_token_lifetime_hours)
    if ttl <= timedelta(0):
        raise ValidationError({"ttl": "The lifetime must be positive."})
    if row.max_uses is None or row.max_uses < 1:
        raise ValidationError({"max_uses": "A registration token allows at least one use."})
    tags = resolve_tags(org, tags)
    issued_at, row.expires_at = tokens.token_times(now, ttl)
    row.jti = tokens.new_jti()
    row.created_by = created_by
    row.save()
    row.tags.set(tags)
    changes = {
        "max_uses": row.max_uses,
        "expires_at": row.expires_at.isoformat(),
        "tags": sorted(map(str, tags)),
        "allow_re_enroll": row.allow_re_enroll,
    }
    audit.record(org, "registration_token.created", row, user=created_by, changes=changes)
    return tokens.encode(
        audience=tokens.AUD_REGISTRATION,
        subject=row.pk,
        org_id=org.pk,
        jti=row.jti,
        issued_at=issued_at,
        expires_at=row.expires_at,
    )


@transaction.atomic
def create_registration_token(org, *, name, created_by, ttl=None, max_uses=1, tags=(), allow_re_enroll=False, now=None):
    """Create a registration token; returns (RegistrationToken, jwt). The JWT is shown once, never stored.

    `allow_re_enroll`: gateways enrolling with it may take over an existing gateway's identity (see enroll()).
    """
    row = RegistrationToken(organization=org, name=name, max_uses=max_uses, allow_re_enroll=allow_re_enroll)
    raw = save_new_registration_token(row, created_by=created_by, ttl=ttl, tags=tags, now=now)
    return row, raw


@transaction.atomic
def revoke_registration_token(row, user, now=None):
    """Revoke a registration token (no-op if already revoked). Returns the row."""
    locked = RegistrationToken.objects.select_for_update().get(pk=row.pk)
    if locked.revoked_at is None:
        locked.revoked_at = now or timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit.record(locked.organization, "registration_token.revoked", locked, user=user)
    row.revoked_at = locked.revoked_at
    return row


def new_opamp_token(gateway, now):
    """A new OpAMP token row and its JWT, with no audit entry: the caller records its own."""
    lifetime = timedelta(days=get_org_settings(gateway.organization).opamp_token_lifetime_days)
    issued_at, expires_at = tokens.token_times(now, lifetime)
    row = OpAMPToken.objects.create(gateway=gateway, jti=tokens.new_jti(), issued_at=issued_at, expires_at=expires_at)
    raw = tokens.encode(
        audience=tokens.AUD_OPAMP,
        subject=gateway.pk,
        org_id=gateway.organization_id,
        jti=row.jti,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    return row, raw


def revoke_live_opamp_tokens(gateway, now):
    """Revoke the gateway's live OpAMP tokens, with no audit entry: the caller records its own.

    A token being offered to the gateway (rotation.py) is one of them: the offer is withdrawn.
    """
    count = OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=True).update(revoked_at=now)
    Gateway.objects.filter(pk=gateway.pk, offered_opamp_token__isnull=False).update(offered_opamp_token=None)
    gateway.offered_opamp_token = None
    if count:
        # Lets the OpAMP server close the gateway's open connections once the revocation is committed.
        gateway_id = gateway.pk
        transaction.on_commit(lambda: opamp_tokens_revoked.send(sender=Gateway, gateway_id=gateway_id))
    return count


@transaction.atomic
def issue_opamp_token(gateway, now=None, *, user=None):
    """Issue a new OpAMP token (older ones stay valid); returns (OpAMPToken, jwt)."""
    row, raw = new_opamp_token(gateway, now or timezone.now())
    audit.record(gateway.organization, "gateway.token_issued", gateway, user=user, changes={"token": str(row.pk)})
    return row, raw


@transaction.atomic
def revoke_opamp_tokens(gateway, user, now=None):
    """Revoke every live OpAMP token of the gateway; returns how many were revoked."""
    count = revoke_live_opamp_tokens(gateway, now or timezone.now())
    audit.record(gateway.organization, "gateway.tokens_revoked", gateway, user=user, changes={"revoked": count})
    return count


@transaction.atomic
def revoke_opamp_token(row, user, now=None):
    """Revoke one OpAMP token (no-op if already revoked). Returns the row."""
    updated = OpAMPToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now())
    row.refresh_from_db(fields=["revoked_at"])
    if updated:
        gateway_id = row.gateway_id
        transaction.on_commit(lambda: opamp_tokens_revoked.send(sender=Gateway, gateway_id=gateway_id))
        audit.record(
            row.gateway.organization, "gateway.token_revoked", row.gateway, user=user, changes={"token": str(row.pk)}
        )
    return row


@transaction.atomic
def mark_offline(gateways, user):
    """Set the gateways offline (e.g. ones known to be gone); returns how many changed."""
    changed = 0
    for gateway in gateways:
        if gateway.status == GatewayStatus.OFFLINE:
            continue
        previous = gateway.status
        gateway.status = GatewayStatus.OFFLINE
        gateway.save(update_fields=["status", "updated_at"])
        changes = {"status": {"from": previous, "to": GatewayStatus.OFFLINE}}
        audit.record(gateway.organization, "gateway.marked_offline", gateway, user=user, changes=changes)
        changed += 1
    return changed


class RestartRefused(Exception):
    """The gateway cannot be restarted remotely now. `str(error)` is safe to show."""


def request_restart(gateway, user, *, request=None):
    """Send the OpAMP Restart command to the gateway's connected agent, after commit.

    Refused (RestartRefused, nothing written) when the agent does not announce
    AcceptsRestartCommand (a collector with only the opamp extension, extension mode, an agent
    that never connected) or when the gateway is offline: the command only reaches a live connection.
    """
    if not can_restart(gateway.capabilities):
        raise RestartRefused(
            f"Gateway {gateway.name!r} cannot be restarted remotely: its agent does not accept restart "
            "commands (no AcceptsRestartCommand capability)."
        )
    if gateway.status == GatewayStatus.OFFLINE:
        raise RestartRefused(
            f"Gateway {gateway.name!r} is offline: a restart command can only reach a connected agent."
        )
    gateway_id = gateway.pk
    with transaction.atomic():
        audit.record(gateway.organization, "gateway.restart_requested", gateway, user=user, request=request)
        # robust: the audit entry stands even if the channel layer is down (the command is then lost).
        transaction.on_commit(lambda: restart_requested.send(sender=Gateway, gateway_id=gateway_id), robust=True)


def assign_desired_config(gateways, version, *, now=None):
    """Make `version` the config the `gateways` (a queryset) should run, in one UPDATE.

    `version` is anything with `config_yaml` and `sha256` (a TemplateVersion, a config given back
    on rollback). This is the single place where gateways' desired configs change. Once the
    transaction commits, desired_config_changed tells the OpAMP server to push the config to the
    gateways' open connections, wherever they are; agents polling over HTTP get it on their next
    poll. Returns the number of gateways updated.
    """
    gateway_ids = list(gateways.values_list("pk", flat=True))
    updated = gateways.update(
        desired_config=version.config_yaml,
        desired_config_hash=version.sha256,
        updated_at=now or timezone.now(),
    )
    # robust: a channel layer failure must not fail the committed request; the agents still get
    # the config when they reconnect.
    transaction.on_commit(lambda: desired_config_changed.send(sender=Gateway, gateway_ids=gateway_ids), robust=True)
    return updated


def redeliver_desired_config(gateways):
    """Have the OpAMP server push the `gateways`' (a queryset) desired config again, now; how many.

    For a push lost between commit and send: the server never sends one config twice on a
    connection, so an agent that has it already is sent nothing.
    """
    gateway_ids = list(gateways.values_list("pk", flat=True))
    desired_config_changed.send(sender=Gateway, gateway_ids=gateway_ids)
    return len(gateway_ids)


HEARTBEAT_STATUSES = (GatewayStatus.ONLINE, GatewayStatus.DEGRADED)


@transaction.atomic
def record_heartbeat(gateway, *, status, version="", uptime_seconds=0, config_hash="", now=None):
    """Record an extension-mode heartbeat: last_seen, status and the `heartbeat` health component.

    Not audited (a gateway sends one every interval, like OpAMP heartbeats). The heartbeat's
    details go to health["component_health_map"]["heartbeat"] so that the health tree a
    collector's opamp extension reports over OpAMP is kept beside it. Returns the gateway.
    """
    if status not in HEARTBEAT_STATUSES:
        raise ValidationError({"status": f"Must be one of {', '.join(HEARTBEAT_STATUSES)}."})
    now = now or timezone.now()
    locked = Gateway.objects.select_for_update().get(pk=gateway.pk)
    health = dict(locked.health or {})
    components = dict(health.get("component_health_map") or {})
    components["heartbeat"] = {
        "healthy": status == GatewayStatus.ONLINE,
        "status": status,
        "status_time_unix_nano": int(now.timestamp() * 1e9),
        "start_time_unix_nano": int((now.timestamp() - uptime_seconds) * 1e9),
        "attributes": {"uptime_seconds": uptime_seconds, "config_hash": config_hash, "version": version},
    }
    health["component_health_map"] = components
    if set(components) == {"heartbeat"}:
        # Nothing else reports health for this gateway: the heartbeat speaks for the whole of it.
        health["healthy"] = status == GatewayStatus.ONLINE
    locked.health = health
    locked.status = status
    locked.last_seen = now
    fields = ["health", "status", "last_seen", "updated_at"]
    if version:
        locked.agent_version = version
        fields.append("agent_version")
    locked.save(update_fields=fields)
    return locked
