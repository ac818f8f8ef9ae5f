"""Admin scoping: a staff user who is not a superuser sees and edits only the objects of
organizations they belong to, within the limits of their role (viewers read only)."""

from django.contrib import admin

from flowgate_site.models import Organization
from flowgate_site.querysets import OrgQuerySet
from flowgate_site.roles import Role, has_role


class OrganizationListFilter(admin.RelatedFieldListFilter):
    """The organization filter, listing only the caller's organizations (not every tenant)."""

    def field_choices(self, field, request, model_admin):
        return [(org.pk, str(org)) for org in Organization.objects.for_user(request.user)]


class OrgScopedAdminMixin:
    """Mix into a ModelAdmin of an org-owned model (its manager built on OrgQuerySet)."""

    write_role = Role.EDITOR

    def get_list_filter(self, request):
        # A plain "organization" filter would list every tenant's name: scope it.
        return [
            ("organization", OrganizationListFilter) if item == "organization" else item
            for item in super().get_list_filter(request)
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    def _writable_orgs(self, request):
        return Organization.objects.for_user(request.user, min_role=self.write_role)

    def has_module_permission(self, request):
        if request.user.is_superuser:
            return True
        return request.user.is_active and request.user.is_staff and request.user.memberships.exists()

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or request.user.is_superuser or obj.organization.role_of(request.user) is not None

    def has_add_permission(self, request, *args):
        if request.user.is_superuser:
            return True
        return self.has_module_permission(request) and self._writable_orgs(request).exists()

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not self.has_module_permission(request):
            return False
        if obj is None:
            return self._writable_orgs(request).exists()
        return has_role(obj.organization.role_of(request.user), self.write_role)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Organization:
            kwargs["queryset"] = self._writable_orgs(request)
        elif isinstance(related._default_manager.all(), OrgQuerySet):
            kwargs["queryset"] = related._default_manager.for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if isinstance(related._default_manager.all(), OrgQuerySet):
            kwargs["queryset"] = related._default_manager.for_user(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ChildInlineMixin:
    """Inline of a child row: follows its parent's permissions."""

    def has_add_permission(self, request, obj=None):
        return obj is None or request.user.is_superuser or has_role(obj.organization.role_of(request.user), Role.EDITOR)

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return True
