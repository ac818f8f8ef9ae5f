"""The one mechanism that scopes every query to the caller's organizations.

Every org-owned model's manager is built from OrgQuerySet. Admin, API, pages and
gateway-facing code all call `for_user()` or `for_org()`; nobody filters on
`organization` by hand.
"""

from django.db import models


class OrgQuerySet(models.QuerySet):
    """A queryset that knows the path from its model to the Organization.

    `org_field` is the lookup path to the organization: "organization" for models
    that own the FK themselves, "template__organization" for a child row, and so on.
    """

    org_field = "organization"

    def for_org(self, org):
        return self.filter(**{self.org_field: org})

    def for_user(self, user, min_role=None):
        """Rows of organizations the user belongs to (with at least `min_role`).

        Superusers see every organization. Anonymous users see nothing.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        from core_app.models import Organization

        orgs = Organization.objects.for_user(user, min_role=min_role)
        return self.filter(**{f"{self.org_field}__in": orgs.values("pk")})


def child_queryset(org_field):
    """An OrgQuerySet subclass for a model whose organization is reached through `org_field`."""
    return type(f"OrgQuerySet_{org_field}", (OrgQuerySet,), {"org_field": org_field})
