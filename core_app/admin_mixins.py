"""Admin scoping: a staff user who is not a superuser sees the objects of the organizations they
belong to, and writes only where their role allows it (viewers read only).

The write rule is the API's (core_app/api/permissions.py and OrgSlugField): a row may be
saved only in an organization where the user has the admin's `write_role`, and every row a form
names (foreign keys, many-to-many) must be one of that same organization. Choices offered by admin
forms follow the rule, and `save_form` checks it again before anything is written, whatever was
posted.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models

from core_app.models import Organization
from core_app.querysets import OrgQuerySet
from core_app.roles import Role, has_role

WRITE_REFUSED = "Your role in this organization does not allow this change."
OTHER_ORG_REFUSED = "{row} belongs to another organization."


def org_of(row):
    """The organization a row belongs to (an organization belongs to itself); None for other rows."""
    if isinstance(row, Organization):
        return row
    if isinstance(row._meta.default_manager.all(), OrgQuerySet):
        return row.organization
    return None


def writable_rows(queryset, user, role):
    """The rows of `queryset` in organizations where `user` has at least `role`.

    Rows of no organization (users) are left as they are: the admin narrows those itself.
    """
    if queryset.model is Organization:
        return queryset.filter(pk__in=Organization.objects.for_user(user, min_role=role).values("pk"))
    if isinstance(queryset, OrgQuerySet):
        return queryset.for_user(user, min_role=role)
    return queryset


def named_rows(cleaned_data):
    """Every model row a form's cleaned data names (single values, lists and querysets)."""
    for value in cleaned_data.values():
        items = value if isinstance(value, (list, tuple, models.QuerySet)) else [value]
        yield from (item for item in items if isinstance(item, models.Model))


def check_write(user, row, cleaned_data, role):
    """PermissionDenied unless `user` has `role` in the organization of `row`, and every org-owned
    row the form names is of that same organization (as OrgOwnedSerializer.same_org_fields)."""
    org = org_of(row)
    if org is None or not has_role(org.role_of(user), role):
        raise PermissionDenied(WRITE_REFUSED)
    for named in named_rows(cleaned_data):
        named_org = org_of(named)
        if named_org is not None and named_org.pk != org.pk:
            raise PermissionDenied(OTHER_ORG_REFUSED.format(row=named))


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

    def writable_choices(self, db_field, request, queryset=None):
        """The rows `db_field` may name: those of organizations where the user may write this model.

        A narrower queryset given by a subclass stays narrow; it is filtered, never replaced.
        """
        if queryset is None:
            queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = db_field.related_model._default_manager.all()
        return writable_rows(queryset, request.user, self.write_role)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self.writable_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self.writable_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_form(self, request, form, change):
        # Every add and change goes through here before save_model/save_related (and before the
        # services subclasses call): the last check, whatever the form offered or was sent.
        row = super().save_form(request, form, change)
        check_write(request.user, row, form.cleaned_data, self.write_role)
        return row


class SuperuserOnlyAdminMixin:
    """Admin of rows that belong to no organization (people, groups, personal API tokens): superusers only.

    To anyone else the rows do not exist, so an admin URL with an id tells nothing: not even a 403
    where a missing id would get "not found".
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.none()

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)
