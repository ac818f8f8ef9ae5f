"""Admin for templates and their versions. Versions are added through `create_version` and
never changed or deleted here (deleting a template removes its versions)."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from core_app import audit
from core_app.admin_mixins import OrganizationListFilter, OrgScopedAdminMixin
from core_app.roles import Role, has_role
from templates_app import services
from templates_app.forms import ConfigTemplateForm, TemplateVersionForm
from templates_app.models import ConfigTemplate, TemplateVersion, ValidationState


@admin.display(description="sha256")
def short_sha256(version):
    return version.sha256[:12]


@admin.display(description="validation", ordering="validation_state")
def validation_badge(version):
    return version.get_validation_state_display()


def _message_lines(entries):
    def where(entry):
        place = f"line {entry['line']}, column {entry['column']}" if entry.get("line") else ""
        return ", ".join(part for part in (place, entry.get("path", "")) if part)

    return format_html_join(
        "", "<li><code>{}</code> {} <small>{}</small></li>", ((e["code"], e["message"], where(e)) for e in entries)
    )


@admin.display(description="validation errors")
def validation_errors_list(version):
    return format_html("<ul>{}</ul>", _message_lines(version.validation_errors)) if version.validation_errors else "—"


@admin.display(description="validation warnings")
def validation_warnings_list(version):
    if not version.validation_warnings:
        return "—"
    return format_html("<ul>{}</ul>", _message_lines(version.validation_warnings))


class TemplateVersionInline(admin.TabularInline):
    """The template's versions, read-only: new versions are added from the version admin."""

    model = TemplateVersion
    fields = ["number", short_sha256, validation_badge, "author", "created_at", "change_summary"]
    readonly_fields = fields
    ordering = ["-number"]
    extra = 0
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        return True  # the template admin has already decided who sees the template

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConfigTemplate)
class ConfigTemplateAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    form = ConfigTemplateForm
    list_display = ["name", "organization", "type", "current_version_number", "updated_at"]
    list_filter = ["type", "organization"]
    search_fields = ["name", "description"]
    list_select_related = ["organization"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_version_stats()

    @admin.display(description="current version", ordering="current_version_number")
    def current_version_number(self, template):
        return template.current_version_number

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "type", "description", "config_yaml", "change_summary"]
        return ["organization", "name", "type", "description"]

    def get_readonly_fields(self, request, obj=None):
        # The organization is chosen once; moving a template would strand its deployments.
        return ["organization"] if obj is not None else []

    def get_inlines(self, request, obj):
        return [TemplateVersionInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            services.save_template(obj)
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            audit.record(obj.organization, "template.updated", obj, request=request, changes=changes)
            return
        created = services.create_template(
            obj.organization,
            name=obj.name,
            type=obj.type,
            description=obj.description,
            author=request.user,
            config_yaml=form.cleaned_data.get("config_yaml") or None,
            change_summary=form.cleaned_data.get("change_summary", ""),
            request=request,
        )
        obj.pk = created.pk
        obj._state.adding = False
        version = created.latest_version()
        if version is not None and version.is_checking:
            self.message_user(request, version.refusal(), messages.WARNING)
        elif version is not None and not version.is_deployable():
            self.message_user(request, f"{version.validation_summary()}. It cannot be deployed.", messages.ERROR)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record(obj.organization, "template.deleted", obj, request=request, changes={"repr": str(obj)})
            obj.delete()

    def delete_queryset(self, request, queryset):
        for template in queryset:
            self.delete_model(request, template)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Add a version (validated, numbered and audited by `create_version`); view existing ones."""

    form = TemplateVersionForm
    list_display = ["template", "number", short_sha256, validation_badge, "author", "created_at", "change_summary"]
    list_filter = [("template__organization", OrganizationListFilter), "validation_state"]
    search_fields = ["template__name", "change_summary"]
    list_select_related = ["template", "author"]
    actions = ["revalidate"]
    view_fields = [
        "template",
        "number",
        "sha256",
        "author",
        "created_at",
        "change_summary",
        validation_badge,
        validation_errors_list,
        validation_warnings_list,
        "validated_at",
        "config_yaml",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["template", "config_yaml", "change_summary"]
        return self.view_fields

    def get_readonly_fields(self, request, obj=None):
        return self.view_fields if obj is not None else []

    # Versions are immutable: nobody changes them, superusers included. Deleting the
    # template is how versions go away.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        version = services.create_version(
            form.cleaned_data["template"],
            config_yaml=form.cleaned_data["config_yaml"],
            change_summary=form.cleaned_data["change_summary"],
            author=request.user,
            request=request,
        )
        # The admin goes on with `obj` (log entry, redirect): make it the saved version.
        for field in TemplateVersion._meta.concrete_fields:
            setattr(obj, field.attname, getattr(version, field.attname))
        obj._state.adding = False
        if version.validation_state == ValidationState.INVALID:
            self.message_user(request, f"{version.validation_summary()}. It cannot be deployed.", messages.ERROR)
        elif version.validation_state == ValidationState.WARNINGS:
            self.message_user(request, version.validation_summary(), messages.WARNING)
        elif version.is_checking:
            self.message_user(request, version.refusal(), messages.WARNING)

    def has_revalidate_permission(self, request):
        return self.has_add_permission(request)

    @admin.action(
        description="Validate again (catalogue, gateways and settings of now; the collector's check runs as a task)",
        permissions=["revalidate"],
    )
    def revalidate(self, request, queryset):
        for version in queryset.select_related("template__organization"):
            if not (request.user.is_superuser or has_role(version.organization.role_of(request.user), Role.EDITOR)):
                self.message_user(request, f"{version}: your role does not allow this.", messages.ERROR)
                continue
            services.revalidate_version(version, user=request.user, request=request)
            self.message_user(request, version.validation_summary())
