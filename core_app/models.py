"""The cross-cutting core: organizations, memberships, per-org settings, audit log, API tokens."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from core_app.querysets import OrgQuerySet
from core_app.roles import Role, roles_at_least


class OrganizationQuerySet(models.QuerySet):
    def for_user(self, user, min_role=None):
        """Organizations the user is a member of, with at least `min_role`; all for superusers."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        memberships = Membership.objects.filter(user=user, role__in=roles_at_least(min_role))
        return self.filter(pk__in=memberships.values("organization_id"))


class Organization(models.Model):
    """A tenant. Everything else in FlowGate belongs to exactly one organization."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def role_of(self, user):
        """The user's role here, or None. Superusers count as owners everywhere."""
        if user.is_superuser:
            return Role.OWNER
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None


class OrgOwnedModel(models.Model):
    """Base for every model that belongs directly to an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="%(app_label)s_%(class)s_set")

    objects = OrgQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(OrgOwnedModel):
    """A user's role in one organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                name="%(app_label)s_%(class)s_unique_user",
                violation_error_message="This user is already a member of the organization.",
            )
        ]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"


class LastOrganization(models.Model):
    """The organization a person last chose with the org switcher: where their next sign-in starts.

    Kept per user in the database, not only in the session: signing in starts a new session, and
    without this a person with several organizations would land in whichever sorted first.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="last_organization"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    chosen_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "last organization"

    def __str__(self):
        return f"{self.user} last worked in {self.organization}"


class Strategy(models.TextChoices):
    ALL_AT_ONCE = "all_at_once", "All at once"
    ROLLING = "rolling", "Rolling"
    CANARY = "canary", "Canary"


component_name = RegexValidator(r"^[a-z][a-z0-9_]*$", "Component types are lower-case words like 'otlp'.")


def validate_component_list(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Give a list of component type names, e.g. ["kafka", "otlp"].')
    for item in value:
        component_name(item)


def price_field(items):
    """An optional price per million `items` (non-negative, in the org's currency) for the savings estimate."""
    return models.DecimalField(
        f"price per million {items}",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text=f"What your backend charges per million {items} (any currency). Empty: no estimate in money.",
    )


class OrgSettings(OrgOwnedModel):
    """Per-organization settings: token lifetimes, heartbeat, rollout defaults, extra components."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="settings")
    opamp_token_lifetime_days = models.PositiveIntegerField(default=365, validators=[MinValueValidator(1)])
    registration_token_lifetime_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1)])
    heartbeat_interval_seconds = models.PositiveIntegerField(default=30, validators=[MinValueValidator(5)])
    # OpAMP token rotation (docs/opamp.md): how long a replaced token keeps working while its
    # gateway switches to the new one, and how early a scheduled rotation replaces an expiring token.
    opamp_token_grace_minutes = models.PositiveIntegerField(
        "OpAMP token grace period (minutes)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="After a token is re-issued, the old one works until the gateway connects with the new "
        "one or this many minutes pass.",
    )
    opamp_token_rotate_days = models.PositiveIntegerField(
        "rotate OpAMP tokens before expiry (days)",
        default=30,
        help_text="Gateways that accept new tokens over OpAMP get one this many days before theirs expires (0: never).",
    )
    default_strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ROLLING)
    default_batch_percent = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1)], help_text="Share of targets per rolling batch."
    )
    default_canary_percent = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    default_health_window_seconds = models.PositiveIntegerField(default=60)
    default_failure_threshold_percent = models.PositiveIntegerField(default=10)
    default_auto_rollback = models.BooleanField(default=True)
    extra_allowed_components = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_component_list],
        help_text="Component types allowed beyond those the gateways report.",
    )
    # Gateway telemetry (telemetry_app, docs/telemetry.md): per-minute rollups are kept this long, then
    # summed into hourly rollups, which are kept for the second period.
    telemetry_minute_retention_hours = models.PositiveIntegerField(
        "keep per-minute telemetry (hours)",
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(14 * 24)],
        help_text="Older per-minute throughput rows are summed into hourly rows.",
    )
    telemetry_hour_retention_days = models.PositiveIntegerField(
        "keep hourly telemetry (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text="Older hourly throughput rows are deleted.",
    )
    # How often gateways push their collector's own metrics to the portal: the reader's interval in the OpAMP
    # own_metrics offer (opamp_app/own_metrics.py, docs/telemetry.md).
    telemetry_interval_seconds = models.PositiveIntegerField(
        "gateway metrics interval (seconds)",
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="How often each gateway's collector sends its own metrics (throughput, drops, queues) to the portal.",
    )
    # Savings estimate (docs/telemetry.md, "Before vs after"): what the org pays its backend per million
    # items of a signal; empty means no estimate in money for that signal.
    price_per_million_log_records = price_field("log records")
    price_per_million_metric_points = price_field("metric points")
    price_per_million_spans = price_field("spans")
    updated_at = models.DateTimeField(auto_now=True)

    # What an org admin may change: the settings page's form and the API's serializer.
    EDITABLE_FIELDS = (
        "opamp_token_lifetime_days",
        "registration_token_lifetime_hours",
        "heartbeat_interval_seconds",
        "opamp_token_grace_minutes",
        "opamp_token_rotate_days",
        "default_strategy",
        "default_batch_percent",
        "default_canary_percent",
        "default_health_window_seconds",
        "default_failure_threshold_percent",
        "default_auto_rollback",
        "extra_allowed_components",
        "telemetry_minute_retention_hours",
        "telemetry_hour_retention_days",
        "telemetry_interval_seconds",
        "price_per_million_log_records",
        "price_per_million_metric_points",
        "price_per_million_spans",
    )

    class Meta:
        ordering = ["organization__name"]
        verbose_name = "organization settings"
        verbose_name_plural = "organization settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_batch_percent__lte=100, default_canary_percent__lte=100)
                & models.Q(default_failure_threshold_percent__lte=100),
                name="%(app_label)s_%(class)s_percent_range",
                violation_error_message="Percentages must be between 1 and 100.",
            )
        ]

    def __str__(self):
        return f"Settings of {self.organization}"

    def clean(self):
        super().clean()
        rotate, lifetime = self.opamp_token_rotate_days, self.opamp_token_lifetime_days
        if rotate and lifetime and rotate >= lifetime:
            # Every new token would be due for rotation at once, and rotated again on every run.
            raise ValidationError(
                {"opamp_token_rotate_days": f"Must be less than the OpAMP token lifetime ({lifetime} days), or 0."}
            )


class AuditLogQuerySet(OrgQuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit entries are append-only.")

    def delete(self):
        raise TypeError("Audit entries are append-only.")


class AuditLog(OrgOwnedModel):
    """One thing someone (a user or a gateway) did. Append-only: never updated or deleted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_logs")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Gateways are kept by id, not FK: the entry outlives the gateway it names.
    actor_gateway_id = models.UUIDField(null=True, blank=True)
    actor_name = models.CharField(max_length=200, help_text="Who acted, as they were named then.")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr or self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit entries are append-only.")


class ApiToken(models.Model):
    """A user's personal API token. Only a prefix and an HMAC digest are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username", "-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"
