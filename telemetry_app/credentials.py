"""Per-gateway telemetry credentials: `fgt_<prefix>_<secret>`, sent as `Authorization: Bearer …`.

The secret is HMAC-SHA256(server key, prefix + seed): the server can give it again (the OpAMP
`own_metrics` offer carries it on every connection) without storing it, and a copy of the database
alone does not give it. A request is checked by finding the row by its prefix and comparing the
HMAC-SHA256 digest of what was presented with the stored digest, in constant time.

Credentials are secrets: nothing here logs them or puts them in an error message.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core_app import audit
from telemetry_app.models import TelemetryCredential
from telemetry_app.signals import telemetry_credential_rotated

SCHEME = "fgt"


class CredentialError(Exception):
    """A credential was refused. `str(error)` is a short message safe to show the caller."""


def _key() -> bytes:
    return f"flowgate:telemetry:{settings.JWT_SIGNING_KEY}".encode()


def _secret(prefix: str, seed: str) -> str:
    mac = hmac.new(_key(), f"secret:{prefix}:{seed}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _digest(credential: str) -> str:
    return hmac.new(_key(), f"digest:{credential}".encode(), hashlib.sha256).hexdigest()


def credential_text(row: TelemetryCredential) -> str:
    return f"{SCHEME}_{row.prefix}_{_secret(row.prefix, row.seed)}"


def issue(gateway, now=None) -> TelemetryCredential:
    """A new current credential for `gateway`; the one it replaces works for the org's grace period."""
    now = now or timezone.now()
    with transaction.atomic():
        TelemetryCredential.objects.filter(gateway=gateway, replaced_at__isnull=True).update(replaced_at=now)
        prefix, seed = secrets.token_hex(6), secrets.token_hex(16)
        row = TelemetryCredential(
            organization_id=gateway.organization_id, gateway=gateway, prefix=prefix, seed=seed, created_at=now
        )
        row.digest = _digest(credential_text(row))
        row.save()
    forget(gateway.pk)
    transaction.on_commit(lambda: forget(gateway.pk))  # a request may have cached it again meanwhile
    return row


def rotate(gateway, now=None, *, user=None) -> TelemetryCredential:
    """Replace the gateway's credential (after a leak, or on a schedule), audited; the OpAMP offer carries the new one.

    The replaced one works for the organization's grace period (opamp_token_grace_minutes), then is refused.
    The gateway's connected agents are offered the new one after the commit (signals.py).
    """
    row = issue(gateway, now)
    audit.record(
        gateway.organization, "gateway.telemetry_credential_rotated", gateway, user=user, changes={"prefix": row.prefix}
    )
    gateway_id = gateway.pk
    transaction.on_commit(lambda: telemetry_credential_rotated.send(sender=TelemetryCredential, gateway_id=gateway_id))
    return row


def current(gateway) -> TelemetryCredential:
    """The gateway's current credential, issued on first use."""
    row = TelemetryCredential.objects.filter(gateway=gateway, replaced_at__isnull=True).first()
    return row or issue(gateway)


def telemetry_credential_for(gateway) -> str:
    """The Authorization header value the gateway's collector sends to /v1/metrics (the OpAMP offer's header)."""
    return f"Bearer {credential_text(current(gateway))}"


def parse_bearer(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class GatewayRef:
    """What the rollups need of a gateway: its id and its organization's (a Gateway instance serves too)."""

    pk: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class Verified:
    """A credential that was accepted, with what a request needs to store its metrics."""

    credential_id: int
    gateway: GatewayRef
    replaced: bool
    minute_retention_hours: int


FIELDS = (
    "pk",
    "digest",
    "organization_id",
    "gateway_id",
    "gateway__organization_id",
    "replaced_at",
    "organization__settings__opamp_token_grace_minutes",
    "organization__settings__telemetry_minute_retention_hours",
)


def verify(raw: str, now=None) -> Verified:
    """The accepted credential `raw` (`fgt_<prefix>_<secret>`); one query of the few columns needed.

    Refused: unknown, malformed, wrong secret, replaced longer ago than the org's grace period, or a
    row whose organization is not its gateway's (rows are written for the credential's gateway only).
    """
    now = now or timezone.now()
    scheme, _, rest = (raw or "").partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != SCHEME or not prefix or not secret or len(raw) > 200:
        raise CredentialError("missing or malformed telemetry credential")
    found = TelemetryCredential.objects.filter(prefix=prefix).values_list(*FIELDS).first()
    if found is None or not hmac.compare_digest(_digest(raw), found[1]):
        raise CredentialError("unknown telemetry credential")
    pk, _, organization_id, gateway_id, gateway_org_id, replaced_at, grace_minutes, retention_hours = found
    if organization_id != gateway_org_id:
        raise CredentialError("telemetry credential does not match its gateway")
    if replaced_at is not None and replaced_at + timedelta(minutes=grace_minutes or 60) <= now:
        raise CredentialError("telemetry credential replaced by a newer one")
    return Verified(
        credential_id=pk,
        gateway=GatewayRef(pk=gateway_id, organization_id=organization_id),
        replaced=replaced_at is not None,
        minute_retention_hours=retention_hours or 48,
    )


class VerifiedCache:
    """Accepted current credentials of this process: {presented credential: (Verified, monotonic time checked)}.

    Why: verify() is a query with three joins per request, 5,000 gateways push every 30 s. An entry is used
    for FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS (120) after its check, then checked again: a credential
    deleted, moved or replaced in another process is refused within that time at most (rotation in this
    process forgets the gateway's entries at once; a replaced credential works for the grace period anyway).
    Only current credentials are kept (a replaced one is checked on every request: its grace period ends),
    keyed by what was presented, so a wrong secret never matches; at most MAX entries, least recently used
    out first. A gateway deleted meanwhile is refused by the ingest itself (rollups.ingest_many).
    """

    MAX = 20_000

    def __init__(self):
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    def get(self, raw: str, ttl: float):
        with self.lock:
            found = self.entries.get(raw)
            if found is None:
                return None
            verified, checked = found
            if time.monotonic() - checked >= ttl:
                del self.entries[raw]
                return None
            self.entries.move_to_end(raw)
            return verified

    def put(self, raw: str, verified: Verified) -> None:
        with self.lock:
            self.entries[raw] = (verified, time.monotonic())
            self.entries.move_to_end(raw)
            while len(self.entries) > self.MAX:
                self.entries.popitem(last=False)

    def forget(self, gateway_id) -> None:
        with self.lock:
            for raw in [raw for raw, (verified, _) in self.entries.items() if verified.gateway.pk == gateway_id]:
                del self.entries[raw]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


cache = VerifiedCache()


def cached(raw: str) -> Verified | None:
    """The Verified of `raw` when this process accepted it within FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS."""
    ttl = settings.FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS
    return cache.get(raw, ttl) if ttl > 0 and raw else None


def verify_cached(raw: str) -> Verified:
    """verify(), answered from this process's cache of accepted current credentials when checked recently."""
    verified = cached(raw)
    if verified is not None:
        return verified
    verified = verify(raw)
    if settings.FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS > 0 and not verified.replaced:
        cache.put(raw, verified)
    return verified


def forget(gateway_id) -> None:
    """Drop the gateway's cached credentials in this process (rotated, or its gateway is gone)."""
    cache.forget(gateway_id)
