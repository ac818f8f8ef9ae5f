"""Gateways (collectors managed over OpAMP), their tags and their tokens."""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core_app.models import OrgOwnedModel
from core_app.querysets import OrgQuerySet, child_queryset
from gateways_app.fields import UInt64Field
from gateways_app.querysets import GatewayQuerySet
from opamp_core import health_errors

tag_key_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$",
    "Tag keys are 1-63 letters, digits, '_', '.', '-' or '/', starting with a letter or digit.",
)
tag_value_validator = RegexValidator(
    r"^[A-Za-z0-9_.\-/:]{0,63}$",
    "Tag values are up to 63 letters, digits, '_', '.', '-', '/' or ':'.",
)


class Tag(OrgOwnedModel):
    """A key=value label used to select gateways for deployments."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=63, validators=[tag_key_validator])
    value = models.CharField(max_length=63, blank=True, validators=[tag_value_validator])

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["key", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key", "value"],
                name="%(app_label)s_%(class)s_unique_pair",
                violation_error_message="This tag already exists in the organization.",
            )
        ]

    def __str__(self):
        return f"{self.key}={self.value}"


class GatewayMode(models.TextChoices):
    SUPERVISOR = "supervisor", "Supervisor"
    EXTENSION = "extension", "Extension"


class Transport(models.TextChoices):
    """The OpAMP transport a gateway's agent used last (set by the OpAMP server when it changes)."""

    WEBSOCKET = "websocket", "WebSocket"
    HTTP = "http", "plain HTTP"


class GatewayStatus(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    DEGRADED = "degraded", "Degraded"


class RemoteConfigStatus(models.TextChoices):
    UNSET = "unset", "Unset"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class Gateway(OrgOwnedModel):
    """An OpenTelemetry Collector (with or without our supervisor) that FlowGate manages."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # OpAMP's 16-byte instance_uid; empty until the first connection when not given at enrollment.
    instance_uid = models.UUIDField(unique=True, null=True, blank=True)
    name = models.CharField(max_length=100)
    hostname = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=12, choices=GatewayMode.choices, default=GatewayMode.SUPERVISOR)
    agent_type = models.CharField(max_length=100, blank=True)
    agent_version = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=GatewayStatus.choices, default=GatewayStatus.OFFLINE)
    transport = models.CharField(
        max_length=10, choices=Transport.choices, blank=True, help_text="OpAMP transport of its latest connection."
    )
    last_seen = models.DateTimeField(null=True, blank=True)
    capabilities = UInt64Field(default=0, help_text="OpAMP AgentCapabilities bitmask (uint64).")
    agent_description = models.JSONField(default=dict, blank=True)
    health = models.JSONField(default=dict, blank=True)
    health_errors = models.JSONField(
        default=list,
        blank=True,
        help_text="The latest errors, newest first, each dated and marked resolved (opamp_core/health_errors.py).",
    )
    # Health from metrics (telemetry_app/health.py), written by the telemetry ingest: the problems its
    # collector's own metrics show (exporter failing, data refused, queue growing or full) and since when.
    metrics_problem = models.TextField(
        blank=True, help_text="What the collector's own metrics show wrong now (empty: nothing); see metrics_errors."
    )
    metrics_degraded_since = models.DateTimeField(
        null=True, blank=True, help_text="When the oldest open problem seen in the collector's own metrics began."
    )
    metrics_errors = models.JSONField(
        default=list,
        blank=True,
        help_text="Problems seen in the collector's own metrics, newest first, dated and marked resolved.",
    )
    desired_config = models.TextField(blank=True)
    desired_config_hash = models.CharField(max_length=64, blank=True)
    effective_config = models.TextField(blank=True)
    effective_config_hash = models.CharField(max_length=64, blank=True)
    remote_config_status = models.CharField(
        max_length=10, choices=RemoteConfigStatus.choices, default=RemoteConfigStatus.UNSET
    )
    remote_config_hash = models.CharField(max_length=64, blank=True)
    remote_config_error = models.TextField(blank=True)
    available_components = models.JSONField(default=dict, blank=True)
    # Connection settings (token rotation, docs/opamp.md): the token offered to the agent in
    # ConnectionSettingsOffers.opamp until it connects with it, and what the agent reported.
    offered_opamp_token = models.ForeignKey(
        "OpAMPToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="New OpAMP token offered to the agent over OpAMP; cleared once the agent connects with it.",
    )
    opamp_token_rotated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the agent last connected with a token offered to it."
    )
    connection_settings_status = models.CharField(
        max_length=10, choices=RemoteConfigStatus.choices, default=RemoteConfigStatus.UNSET
    )
    connection_settings_hash = models.CharField(max_length=64, blank=True)
    connection_settings_error = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="gateways")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GatewayQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="A gateway with this name already exists in the organization.",
            )
        ]

    def __str__(self):
        return self.name

    def is_online(self):
        return self.status == GatewayStatus.ONLINE

    def has_config_drift(self):
        """True when the gateway runs something other than what deployments asked for.

        The same rule as GatewayQuerySet.drifted(), for one loaded row: a FAILED report of the
        desired config is drift too (the collector still runs what it ran before).
        """
        if not self.desired_config_hash:
            return False
        return (
            self.remote_config_hash != self.desired_config_hash
            or self.remote_config_status == RemoteConfigStatus.FAILED
        )

    @property
    def shown_status(self):
        """The status pages, the API and filters show: degraded when OpAMP health or the collector's own metrics
        say so (SHOWN_STATUS in querysets.py is its SQL twin); offline wins over both."""
        if self.status == GatewayStatus.ONLINE and self.metrics_degraded_since is not None:
            return GatewayStatus.DEGRADED
        return self.status

    def get_shown_status_display(self):
        return GatewayStatus(self.shown_status).label

    def degraded_reasons(self):
        """What makes the gateway degraded now, oldest first: [{"source", "message", "since"}] (source "OpAMP
        health" or "metrics"). Empty unless shown degraded; reads health_errors and metrics_errors."""
        if self.shown_status != GatewayStatus.DEGRADED:
            return []
        reasons = []
        if self.status == GatewayStatus.DEGRADED:
            for entry in self.health_errors or []:
                if entry.get("source") == health_errors.HEALTH and not entry.get("resolved_at"):
                    reasons.append({"source": "OpAMP health", "message": entry["message"], "at": entry.get("at")})
            if not reasons:
                reasons.append({"source": "OpAMP health", "message": "the agent reports itself unhealthy", "at": None})
        if self.metrics_degraded_since is not None:
            found = [e for e in self.metrics_errors or [] if not e.get("resolved_at")]
            for entry in found or [{"message": self.metrics_problem, "at": None}]:
                reasons.append({"source": "metrics", "message": entry["message"], "at": entry.get("at")})
        reasons.sort(key=lambda reason: reason["at"] or "")
        return [{**reason, "since": health_errors.parse(reason.pop("at"))} for reason in reasons]

    def error_history(self):
        """health_errors and metrics_errors with datetimes (at, resolved_at, healthy_since) for pages: newest first."""
        entries = [*(self.health_errors or []), *(self.metrics_errors or [])]
        entries.sort(key=lambda entry: entry.get("at") or "", reverse=True)
        return [
            {**entry, **{name: health_errors.parse(entry.get(name)) for name in ("at", "resolved_at", "healthy_since")}}
            for entry in entries
        ]


# What a gateway reports about itself (and what deployments set): shown everywhere, edited nowhere by hand.
REPORTED_FIELDS = [
    "instance_uid",
    "hostname",
    "mode",
    "status",
    "transport",
    "last_seen",
    "agent_type",
    "agent_version",
    "capabilities",
    "agent_description",
    "health",
    "health_errors",
    "metrics_problem",
    "metrics_degraded_since",
    "metrics_errors",
    "effective_config",
    "effective_config_hash",
    "remote_config_status",
    "remote_config_hash",
    "remote_config_error",
    "available_components",
    "connection_settings_status",
    "connection_settings_hash",
    "connection_settings_error",
    "opamp_token_rotated_at",
    "desired_config_hash",
    "created_at",
    "updated_at",
]
# Reported fields that may hold megabytes (a whole config, a health tree of thousands of components, a
# collector's error): lists neither load nor send them (.defer() and a list serializer); details do.
HEAVY_REPORTED_FIELDS = [
    "agent_description",
    "health",
    "health_errors",
    "metrics_errors",
    "effective_config",
    "remote_config_error",
    "available_components",
]


class RegistrationToken(OrgOwnedModel):
    """A one-time (or N-time) token that lets a new gateway enroll. Only its JWT id is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    jti = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", help_text="Given to gateways it enrolls.")
    allow_re_enroll = models.BooleanField(
        "allow re-enrollment",
        default=False,
        help_text=(
            "Lets a gateway enroll under the name or instance_uid of an existing gateway of the organization "
            "and take over its identity (its OpAMP tokens are revoked): for a gateway that lost its state."
        ),
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(uses__lte=models.F("max_uses")),
                name="%(app_label)s_%(class)s_uses_within_max",
                violation_error_message="This registration token has been used up.",
            ),
            models.CheckConstraint(
                condition=models.Q(max_uses__gte=1), name="%(app_label)s_%(class)s_max_uses_positive"
            ),
        ]

    def __str__(self):
        return self.name

    def state(self, now=None):
        """'active', 'revoked', 'expired' or 'used up'."""
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "used up"
        return "active"


class OpAMPToken(models.Model):
    """The long-lived token a gateway presents on OpAMP connections. Only its JWT id is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="opamp_tokens")
    jti = models.CharField(max_length=64, unique=True, editable=False)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer token was offered to the gateway (rotation): this one keeps working until
    # then, or until the gateway connects with the new one (it is then revoked).
    grace_until = models.DateTimeField(null=True, blank=True)

    objects = child_queryset("gateway__organization").as_manager()

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = "OpAMP token"

    def __str__(self):
        return f"OpAMP token of {self.gateway} ({self.jti[:8]}…)"

    @property
    def organization(self):
        return self.gateway.organization

    def is_live(self, now=None):
        now = now or timezone.now()
        in_grace = self.grace_until is None or self.grace_until > now
        return self.revoked_at is None and self.expires_at > now and in_grace
