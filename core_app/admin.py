"""Admin for the tenancy core: organizations, members, settings, audit log, API tokens, people.

Members are managed here only (the API and pages show them read-only). Admins manage members up
to admin; only owners grant, change or remove the owner role (roles.may_assign).
"""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from core_app.admin_mixins import OrgScopedAdminMixin, SuperuserOnlyAdminMixin
from core_app.forms import MembershipForm, OrgSettingsForm
from core_app.models import ApiToken, AuditLog, Membership, Organization, OrgSettings
from core_app.roles import Role, has_role, may_assign
from core_app.services import create_organization


def visible_users(user, min_role=None):
    """Users someone may pick: members of their organizations where they have `min_role` (superusers: everyone).

    Org admins never browse the whole user table: that would leak other tenants' people.
    """
    users = get_user_model().objects.order_by("username")
    if user.is_superuser:
        return users
    orgs = Organization.objects.for_user(user, min_role=min_role)
    return users.filter(memberships__organization__in=orgs).distinct()


def for_actor(form_class, user):
    """`form_class` (MembershipForm or its formset) bound to the person saving it."""
    return type(form_class.__name__, (form_class,), {"actor": user})


class MembershipInlineFormSet(BaseInlineFormSet):
    """Removing an owner from the organization page is an owner's decision too."""

    actor = None

    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            org = form.instance.organization
            if form.instance.pk and not may_assign(org.role_of(self.actor), form.instance.role):
                raise ValidationError(f"Only an owner of {org} may remove an owner.")


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipInlineFormSet
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = for_actor(self.form, request.user)
        return for_actor(super().get_formset(request, obj, **kwargs), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = visible_users(request.user, min_role=Role.ADMIN)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None or has_role(obj.role_of(request.user), Role.ADMIN)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, org):
        return org.memberships.count()

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    def has_module_permission(self, request):
        return request.user.is_superuser or (request.user.is_staff and request.user.memberships.exists())

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        return obj is not None and has_role(obj.role_of(request.user), Role.ADMIN)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            created = create_organization(obj.slug, obj.name)
            obj.pk = created.pk
            obj._state.adding = False


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    form = MembershipForm
    write_role = Role.ADMIN

    def get_form(self, request, obj=None, **kwargs):
        return for_actor(super().get_form(request, obj, **kwargs), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = visible_users(request.user, min_role=self.write_role)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        # An owner's membership is read-only to admins: only an owner changes or removes it.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_assign(obj.organization.role_of(request.user), obj.role))


@admin.register(OrgSettings)
class OrgSettingsAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    form = OrgSettingsForm  # as the settings page: extra components one per line, not JSON
    list_display = ["organization", "heartbeat_interval_seconds", "default_strategy", "updated_at"]
    readonly_fields = ["organization", "updated_at"]
    write_role = Role.ADMIN

    def has_add_permission(self, request, *args):
        return False  # created with the organization

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor_name", "action", "object_type", "object_repr", "source_ip"]
    list_filter = ["action", "object_type", "organization", "created_at"]
    search_fields = ["actor_name", "action", "object_repr", "object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["organization"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    # Append-only: nobody adds, changes or deletes entries by hand, superusers included.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Superusers can see and delete (revoke) API tokens; creating one is `manage.py createapitoken`."""

    list_display = ["prefix", "user", "name", "created_at", "expires_at", "last_used_at"]
    search_fields = ["user__username", "prefix", "name"]
    readonly_fields = ["user", "name", "prefix", "digest", "created_at", "expires_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


# People and groups belong to no organization: only superusers manage them. Django's own admins,
# with its model permissions, would show every tenant's people to a staff user given them.
admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(SuperuserOnlyAdminMixin, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdminMixin, auth_admin.GroupAdmin):
    pass
