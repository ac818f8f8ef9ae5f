"""Collector config templates and their immutable, numbered versions."""

import hashlib
import uuid

from django.conf import settings
from django.db import models

from core_app.models import OrgOwnedModel
from core_app.querysets import child_queryset
from templates_app.querysets import ConfigTemplateQuerySet


class TemplateType(models.TextChoices):
    METRICS = "metrics", "Metrics"
    LOGS = "logs", "Logs"
    TRACES = "traces", "Traces"
    ROUTING = "routing", "Routing"
    FULL = "full", "Full"


class ConfigTemplate(OrgOwnedModel):
    """A named collector configuration that evolves through versions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=TemplateType.choices, default=TemplateType.FULL)
    description = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConfigTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="A template with this name already exists in the organization.",
            )
        ]

    def __str__(self):
        return self.name

    def current_version(self):
        """The highest-numbered deployable version, or None.

        "Current" is what a new deployment of this template would use: a version that is invalid,
        or still being checked, never becomes current even when it is the newest.
        """
        return self.versions.deployable().order_by("-number").first()

    def latest_version(self):
        """The highest-numbered version whatever its validation state, or None."""
        return self.versions.order_by("-number").first()


class ValidationState(models.TextChoices):
    """The outcome of validating a version's config (templates_app.validation)."""

    UNVALIDATED = "unvalidated", "Not validated"
    CHECKING = "checking", "Being checked"
    VALID = "valid", "Valid"
    WARNINGS = "warnings", "Valid with warnings"
    INVALID = "invalid", "Invalid"


# The states a deployment may use. "checking" is not one: the deep check (templates_app.tasks)
# has not finished, and nobody should ship a config whose check is still running. "unvalidated"
# is only found on rows saved before validation existed (every new version is validated): they
# stay deployable, as they were, so the config a fleet already runs can still be rolled out again;
# the pages mark them "Not validated" and the admin's re-validate action settles them.
DEPLOYABLE_STATES = (ValidationState.VALID, ValidationState.WARNINGS, ValidationState.UNVALIDATED)


class TemplateVersionQuerySet(child_queryset("template__organization")):
    def update(self, **kwargs):
        raise TypeError("Template versions are immutable.")

    def deployable(self):
        """Versions a deployment may use (see DEPLOYABLE_STATES): for choices and for checks."""
        return self.filter(validation_state__in=DEPLOYABLE_STATES)

    def checking(self):
        """Versions whose deep check is queued or running (templates_app.tasks.check_version)."""
        return self.filter(validation_state=ValidationState.CHECKING)


def sha256_of(text):
    return hashlib.sha256(text.encode()).hexdigest()


class TemplateVersion(models.Model):
    """One immutable revision of a template's collector YAML, numbered 1, 2, 3… per template."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(ConfigTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(editable=False)
    config_yaml = models.TextField()
    sha256 = models.CharField(max_length=64, editable=False)
    change_summary = models.CharField(max_length=500, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Validation results (templates_app.validation), set when the version is created. An invalid
    # version is kept, but no deployment may use it. Rows from before validation existed are
    # "unvalidated" until re-validated (admin action, services.revalidate_version).
    validation_state = models.CharField(
        max_length=12, choices=ValidationState.choices, default=ValidationState.UNVALIDATED, editable=False
    )
    validation_errors = models.JSONField(default=list, blank=True, editable=False)
    validation_warnings = models.JSONField(default=list, blank=True, editable=False)
    validated_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TemplateVersionQuerySet.as_manager()

    class Meta:
        ordering = ["template__name", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"],
                name="%(app_label)s_%(class)s_unique_number",
                violation_error_message="This version number already exists for the template.",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1),
                name="%(app_label)s_%(class)s_number_positive",
            ),
        ]

    def __str__(self):
        return f"{self.template.name} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Template versions are immutable; create a new version instead.")
        self.sha256 = sha256_of(self.config_yaml)
        super().save(*args, **kwargs)

    @property
    def organization(self):
        return self.template.organization

    def is_deployable(self):
        """True when a deployment may use this version: valid, valid with warnings, or a legacy row
        from before validation existed. Invalid versions, and versions whose check has not
        finished ("checking"), are refused (see DEPLOYABLE_STATES)."""
        return self.validation_state in DEPLOYABLE_STATES

    @property
    def is_checking(self):
        return self.validation_state == ValidationState.CHECKING

    def validation_summary(self):
        """One line: the validation state and the first error (or warning), with its line and column."""
        text = f"{self} is {self.get_validation_state_display().lower()}"
        entries = self.validation_errors or self.validation_warnings
        if entries:
            first = entries[0]
            place = f" (line {first['line']}, column {first['column']})" if first.get("line") else ""
            more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
            text += f": {first['message']}{place}{more}"
        return text

    def refusal(self):
        """Why a deployment may not use this version, as one sentence ("" when it may)."""
        if self.is_deployable():
            return ""
        if self.is_checking:
            return f"{self} is still being checked by the collector; deploy it once the check has finished."
        return f"{self.validation_summary()}. Fix it in a new version to deploy it."
