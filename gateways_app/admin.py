"""Admin of gateways, tags and tokens. Actions are thin: loop, call a service, report."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html_join

from core_app import audit
from core_app.admin_mixins import OrgScopedAdminMixin
from core_app.roles import Role
from gateways_app import services
from gateways_app.forms import GatewayForm, RegistrationTokenForm
from gateways_app.models import REPORTED_FIELDS, Gateway, GatewayStatus, OpAMPToken, RegistrationToken, Tag


class WritableActionsMixin:
    """Admin actions act only on rows of organizations where the user has the admin's write role."""

    def writable(self, request, queryset):
        allowed = self.model.objects.for_user(request.user, min_role=self.write_role)
        return queryset.filter(pk__in=allowed.values("pk"))

    def has_write_permission(self, request):
        return self.has_change_permission(request)


class AuditedAdminMixin:
    """Edits and deletions made in the admin go to the audit log, like those made through the API."""

    audit_name = None

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        verb = "updated" if change else "created"
        changes = {"fields": sorted(form.changed_data)}
        audit.record(obj.organization, f"{self.audit_name}.{verb}", obj, user=request.user, changes=changes)

    def delete_model(self, request, obj):
        audit.record(obj.organization, f"{self.audit_name}.deleted", obj, user=request.user, changes={"repr": str(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ShownStatusFilter(admin.SimpleListFilter):
    """The status pages show: degraded when OpAMP health or the collector's own metrics say so."""

    title = "status"
    parameter_name = "shown_status"

    def lookups(self, request, model_admin):
        return GatewayStatus.choices

    def queryset(self, request, queryset):
        return queryset.with_shown_status(self.value()) if self.value() in GatewayStatus.values else queryset


@admin.register(Gateway)
class GatewayAdmin(OrgScopedAdminMixin, WritableActionsMixin, AuditedAdminMixin, admin.ModelAdmin):
    write_role = Role.ADMIN
    audit_name = "gateway"
    form = GatewayForm
    list_display = [
        "name",
        "organization",
        "shown_status",
        "mode",
        "agent_version",
        "last_seen",
        "remote_config_status",
        "tag_list",
    ]
    list_filter = [
        ShownStatusFilter,
        "mode",
        "remote_config_status",
        # RelatedOnly: the choices come from the scoped queryset, never from other organizations.
        ("organization", admin.RelatedOnlyFieldListFilter),
        ("tags", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "hostname", "instance_uid"]
    readonly_fields = ["organization", "errors", *REPORTED_FIELDS]
    fields = ["organization", "name", "tags", "errors", *REPORTED_FIELDS]
    filter_horizontal = ["tags"]
    actions = ["mark_offline", "revoke_tokens", "restart"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization").prefetch_related("tags")

    def has_add_permission(self, request, *args):
        # Gateways come from enrollment with a registration token.
        return False

    @admin.display(description="status")
    def shown_status(self, obj):
        """Degraded when OpAMP health or the collector's own metrics say so (the reason is on the page)."""
        return obj.get_shown_status_display()

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(str(tag) for tag in obj.tags.all())

    @admin.display(description="errors")
    def errors(self, obj):
        """The dated errors (health_errors) in words, as the gateway page says them: never an undated error."""
        lines = []
        for entry in obj.error_history():
            when = f"Error at {entry['at']:%Y-%m-%d %H:%M:%S %Z}" if entry["at"] else "Error"
            if entry["resolved_at"]:
                when += f" (resolved at {entry['resolved_at']:%Y-%m-%d %H:%M:%S %Z}"
                if entry["healthy_since"]:
                    when += f", healthy since {entry['healthy_since']:%Y-%m-%d %H:%M:%S %Z}"
                when += ")"
            else:
                when += " (open)"
            lines.append((when, entry["component"], entry["message"]))
        if not lines:
            return "none"
        return format_html_join("", "<div>{} — {}: <code>{}</code></div>", lines)

    @admin.action(description="Mark offline", permissions=["write"])
    def mark_offline(self, request, queryset):
        count = services.mark_offline(self.writable(request, queryset), request.user)
        self.message_user(request, f"{count} gateway(s) marked offline.")

    @admin.action(description="Restart collector", permissions=["write"])
    def restart(self, request, queryset):
        sent = 0
        for gateway in self.writable(request, queryset):
            try:
                services.request_restart(gateway, request.user, request=request)
                sent += 1
            except services.RestartRefused as error:
                self.message_user(request, str(error), messages.ERROR)
        if sent:
            self.message_user(request, f"Restart requested for {sent} gateway(s).")

    @admin.action(description="Revoke OpAMP tokens", permissions=["write"])
    def revoke_tokens(self, request, queryset):
        total = 0
        for gateway in self.writable(request, queryset):
            total += services.revoke_opamp_tokens(gateway, request.user)
        self.message_user(request, f"{total} OpAMP token(s) revoked.")


@admin.register(Tag)
class TagAdmin(OrgScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    audit_name = "tag"
    list_display = ["key", "value", "organization"]
    list_filter = [("organization", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key", "value"]


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(OrgScopedAdminMixin, WritableActionsMixin, AuditedAdminMixin, admin.ModelAdmin):
    write_role = Role.ADMIN
    audit_name = "registration_token"
    form = RegistrationTokenForm
    list_display = ["name", "organization", "state", "uses", "max_uses", "allow_re_enroll", "expires_at", "created_by"]
    list_filter = [("organization", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    filter_horizontal = ["tags"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "created_by")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The JWT already carries its expiry and audience: they cannot change after signing.
        # allow_re_enroll too: a token's power to take over gateways is chosen once, when it is created.
        return [
            "organization",
            "jti",
            "uses",
            "expires_at",
            "revoked_at",
            "created_by",
            "created_at",
            "allow_re_enroll",
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "max_uses", "expires_at", "tags", "allow_re_enroll"]
        return ["organization", "name", "max_uses", "tags", *self.get_readonly_fields(request, obj)]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        expires_at = form.cleaned_data.get("expires_at")
        ttl = expires_at - timezone.now() if expires_at else None
        raw = services.save_new_registration_token(
            obj, created_by=request.user, ttl=ttl, tags=form.cleaned_data.get("tags", [])
        )
        self.message_user(
            request, f"Registration token created. Copy it now, it is not shown again: {raw}", messages.WARNING
        )

    @admin.display(description="state")
    def state(self, obj):
        return obj.state()

    @admin.action(description="Revoke", permissions=["write"])
    def revoke(self, request, queryset):
        rows = list(self.writable(request, queryset))
        for row in rows:
            services.revoke_registration_token(row, request.user)
        self.message_user(request, f"{len(rows)} registration token(s) revoked.")


@admin.register(OpAMPToken)
class OpAMPTokenAdmin(OrgScopedAdminMixin, WritableActionsMixin, admin.ModelAdmin):
    """Read-only: OpAMP tokens are issued by enrollment and re-issue, and only revoked here."""

    write_role = Role.ADMIN
    list_display = ["__str__", "gateway", "organization_name", "issued_at", "expires_at", "revoked_at"]
    list_filter = [("gateway__organization", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["gateway__name", "jti"]
    readonly_fields = ["gateway", "jti", "issued_at", "expires_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gateway__organization")

    @admin.display(description="organization")
    def organization_name(self, obj):
        return obj.gateway.organization

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_write_permission(self, request):
        return OrgScopedAdminMixin.has_change_permission(self, request)

    @admin.action(description="Revoke", permissions=["write"])
    def revoke(self, request, queryset):
        rows = list(self.writable(request, queryset))
        for row in rows:
            services.revoke_opamp_token(row, request.user)
        self.message_user(request, f"{len(rows)} OpAMP token(s) revoked.")
