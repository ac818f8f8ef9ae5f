"""Role-based API permissions. Visibility is the queryset's job (OrgScopedMixin); this
class decides who may write: members with at least the view's `write_role`."""

from rest_framework import permissions

from core_app.models import Organization
from core_app.roles import Role, has_role


def write_role_of(view):
    return getattr(view, "write_role", Role.EDITOR)


class OrgRolePermission(permissions.BasePermission):
    message = "Your role in this organization does not allow this change."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, request.method.lower(), None) is None:
            return True  # the view does not offer this method: let it answer 405
        return Organization.objects.for_user(request.user, min_role=write_role_of(view)).exists()

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return has_role(obj.organization.role_of(request.user), write_role_of(view))
