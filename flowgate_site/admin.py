"""Admin for the tenancy core: organizations, members, settings, audit log, API tokens."""

from django.contrib import admin
from django.contrib.auth import get_user_model

from flowgate_site.admin_mixins import OrgScopedAdminMixin
from flowgate_site.models import ApiToken, AuditLog, Membership, Organization, OrgSettings
from flowgate_site.roles import Role, has_role
from flowgate_site.services import create_organization


def visible_users(user):
    """Users an org admin may pick: members of their own organizations (superusers: everyone).

    Org admins never browse the whole user table: that would leak other tenants' people.
    """
    users = get_user_model().objects.order_by("username")
    if user.is_superuser:
        return users
    return users.filter(memberships__organization__in=Organization.objects.for_user(user)).distinct()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = visible_users(request.user)
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
    write_role = Role.ADMIN

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = visible_users(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(OrgSettings)
class OrgSettingsAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
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
class ApiTokenAdmin(admin.ModelAdmin):
    """Superusers can see and delete (revoke) API tokens; creating one is `manage.py createapitoken`."""

    list_display = ["prefix", "user", "name", "created_at", "expires_at", "last_used_at"]
    search_fields = ["user__username", "prefix", "name"]
    readonly_fields = ["user", "name", "prefix", "digest", "created_at", "expires_at", "last_used_at"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False
