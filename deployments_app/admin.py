"""Admin for deployments. New deployments go through `services.create_deployment`; existing
ones and their targets are read-only here (cancel and pause come with the rollout engine)."""

from django import forms
from django.contrib import admin

from deployments_app import services
from deployments_app.forms import DeploymentForm
from deployments_app.models import Deployment, DeploymentTarget, TargetStatus
from flowgate_site.admin_mixins import OrganizationListFilter, OrgScopedAdminMixin

SETTINGS_FIELDS = [
    "strategy",
    "batch_size",
    "batch_percent",
    "canary_count",
    "canary_percent",
    "pause_seconds",
    "health_window_seconds",
    "apply_timeout_seconds",
    "failure_threshold_count",
    "failure_threshold_percent",
    "auto_rollback",
]
ADD_FIELDSETS = [
    (None, {"fields": ["organization", "template_version", "selector_tags", "selector_gateways"]}),
    ("Rollout", {"fields": SETTINGS_FIELDS, "description": "Leave a setting empty to use the organization's."}),
]
VIEW_FIELDSETS = [
    (None, {"fields": ["organization", "template_version", "selector_tags", "selector_gateways"]}),
    ("Rollout", {"fields": SETTINGS_FIELDS}),
    ("State", {"fields": ["status", "progress", "created_by", "created_at", "started_at", "finished_at"]}),
]


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeploymentTargetInline(ReadOnlyMixin, admin.TabularInline):
    model = DeploymentTarget
    fields = ["gateway", "status", "batch", "error", "sent_at", "applied_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        # Shown inside a deployment the caller may already view (OrgScopedAdminMixin).
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gateway")


@admin.register(Deployment)
class DeploymentAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Add a deployment (validated and created by the service); view existing ones."""

    form = DeploymentForm
    list_display = [
        "template_version",
        "organization",
        "strategy",
        "status",
        "target_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "strategy", "organization"]  # scoped by OrgScopedAdminMixin
    list_select_related = ["template_version__template", "organization", "created_by"]
    search_fields = ["template_version__template__name"]
    filter_horizontal = ["selector_tags", "selector_gateways"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).with_progress().order_by("-created_at", "-pk")

    def get_fieldsets(self, request, obj=None):
        return ADD_FIELDSETS if obj is None else VIEW_FIELDSETS

    def get_inlines(self, request, obj):
        return [DeploymentTargetInline] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            # Viewing: every field is read-only, the plain model form is enough.
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="targets", ordering="target_count")
    def target_count(self, deployment):
        return deployment.target_count

    @admin.display(description="progress")
    def progress(self, deployment):
        counts = [
            f"{getattr(deployment, f'progress_{status}')} {label.lower()}" for status, label in TargetStatus.choices
        ]
        return f"{deployment.target_count} targets: " + ", ".join(counts)

    # Deployments are records of what was sent: not edited or deleted here.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        deployment = services.create_deployment(
            form.cleaned_data["organization"], user=request.user, request=request, **form.deployment_kwargs()
        )
        # The admin goes on with `obj` (log entry, redirect): make it the saved deployment.
        for field in Deployment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(deployment, field.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """The service has set the selectors and created the targets already."""


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(ReadOnlyMixin, OrgScopedAdminMixin, admin.ModelAdmin):
    list_display = ["gateway", "deployment", "status", "batch", "sent_at", "applied_at"]
    list_filter = ["status", ("deployment__organization", OrganizationListFilter)]
    list_select_related = ["gateway", "deployment__template_version__template"]
    search_fields = ["gateway__name", "deployment__template_version__template__name"]
    fields = [
        "deployment",
        "gateway",
        "status",
        "batch",
        "error",
        "previous_config_hash",
        "previous_config",
        "sent_at",
        "applied_at",
    ]
    readonly_fields = fields
