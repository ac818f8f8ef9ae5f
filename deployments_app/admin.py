"""Admin for deployments. New deployments go through `services.create_deployment`; existing
ones, their targets and their timeline are read-only here. The operator actions (pause,
resume, cancel, roll back now) are admin actions calling `deployments_app.actions`."""

from django import forms
from django.contrib import admin, messages

from core_app.admin_mixins import OrganizationListFilter, OrgScopedAdminMixin
from core_app.roles import Role, has_role
from deployments_app import actions, services
from deployments_app.forms import DeploymentForm
from deployments_app.models import Deployment, DeploymentEvent, DeploymentTarget, TargetStatus

SETTINGS_FIELDS = list(services.PARAM_FIELDS)  # the rollout settings a deployment may override
ADD_FIELDSETS = [
    (None, {"fields": ["organization", "template_version", "selector_tags", "selector_gateways", "force"]}),
    ("Rollout", {"fields": SETTINGS_FIELDS, "description": "Leave a setting empty to use the organization's."}),
]
VIEW_FIELDSETS = [
    (None, {"fields": ["organization", "template_version", "selector_tags", "selector_gateways"]}),
    ("Rollout", {"fields": SETTINGS_FIELDS}),
    ("Target check", {"fields": ["forced", "validated_at", "target_check"]}),
    (
        "State",
        {
            "fields": [
                *["status", "outcome", "progress", "current_batch"],
                *["created_by", "created_at", "started_at", "finished_at"],
            ]
        },
    ),
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
    fields = ["gateway", "status", "batch", "error", "sent_at", "applied_at", "rollback", "rollback_error"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        # Shown inside a deployment the caller may already view (OrgScopedAdminMixin).
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gateway")


class DeploymentEventInline(ReadOnlyMixin, admin.TabularInline):
    """The deployment's timeline."""

    model = DeploymentEvent
    fields = ["created_at", "kind", "message", "count"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "timeline"

    def has_view_permission(self, request, obj=None):
        return True


def operator_action(operation, description):
    """An admin action running `operation` (deployments_app.actions) on each selected deployment."""

    def run(modeladmin, request, queryset):
        done = 0
        for deployment in queryset:
            if not (request.user.is_superuser or has_role(deployment.organization.role_of(request.user), Role.EDITOR)):
                modeladmin.message_user(request, f"{deployment}: your role does not allow this.", messages.ERROR)
                continue
            try:
                operation(deployment.pk, user=request.user, request=request)
                done += 1
            except actions.TransitionRefused as refused:
                modeladmin.message_user(request, f"{deployment}: {refused}", messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{description}: {done} deployment(s).", messages.SUCCESS)

    run.__name__ = f"{operation.__name__}_deployments"
    return admin.action(description=f"{description} the selected deployments", permissions=["operate"])(run)


@admin.register(Deployment)
class DeploymentAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Add a deployment (validated and created by the service); view existing ones and act on them."""

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
    actions = [
        operator_action(actions.pause, "Pause"),
        operator_action(actions.resume, "Resume"),
        operator_action(actions.cancel, "Cancel"),
        operator_action(actions.roll_back, "Roll back"),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_progress().order_by("-created_at", "-pk")

    def get_fieldsets(self, request, obj=None):
        return ADD_FIELDSETS if obj is None else VIEW_FIELDSETS

    def get_inlines(self, request, obj):
        return [DeploymentTargetInline, DeploymentEventInline] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            # Viewing: every field is read-only, the plain model form is enough.
            kwargs["form"] = forms.ModelForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            # Forcing past the target check needs the admin role in the deployment's organization.
            form = type(form.__name__, (form,), {"actor": request.user})
        return form

    @admin.display(description="target check")
    def target_check(self, deployment):
        """The per-gateway result of the check against the targets (deployments_app.target_check)."""
        check = deployment.validation or {}
        if not check:
            return "Not checked yet."
        lines = [f"{row['gateway_name']} lacks {', '.join(row['missing'])}" for row in check.get("missing", [])[:50]]
        lines += check.get("errors", [])
        if check.get("unreported"):
            names = ", ".join(check["unreported"][:50])
            lines.append(f"Never reported components (checked against the catalogue): {names}")
        deep = check.get("deep_check", {}).get("status", "")
        if not lines:
            lines.append("Every target has every component")
        lines.append(f"Deep check: {deep.replace('_', ' ')}")
        return "; ".join(lines)

    @admin.display(description="targets", ordering="target_count")
    def target_count(self, deployment):
        return deployment.target_count

    @admin.display(description="progress")
    def progress(self, deployment):
        counts = [
            f"{getattr(deployment, f'progress_{status}')} {label.lower()}" for status, label in TargetStatus.choices
        ]
        summary = f"{deployment.target_count} targets: " + ", ".join(counts)
        if deployment.progress_returning or deployment.progress_rolled_back:
            summary += (
                f"; rollback: {deployment.progress_rolled_back} back on their previous config,"
                f" {deployment.progress_returning} returning"
            )
        if deployment.waiting_offline:
            summary += f" ({deployment.waiting_offline} waiting for their gateway to connect)"
        return summary

    def has_operate_permission(self, request):
        """Pause, resume, cancel and roll back: editors (each deployment's own org is checked too)."""
        return super().has_add_permission(request)

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
    list_display = ["gateway", "deployment", "status", "batch", "sent_at", "applied_at", "rollback"]
    list_filter = ["status", "rollback", ("deployment__organization", OrganizationListFilter)]
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
        "rollback",
        "rollback_error",
        "rollback_sent_at",
    ]
    readonly_fields = fields
