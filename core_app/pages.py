"""Building blocks of the server-rendered pages: the current organization, scoping and roles.

A signed-in person works in one organization at a time, kept in the session (`SESSION_KEY`)
and chosen with the org switcher. Every page view mixes in `OrgPageMixin`, which

- resolves the current organization and the person's role in it (one query, cached on the request);
- scopes every lookup with the model's own `for_user()` plus `for_org(current org)` (`scoped()`), so
  another organization's object is 404, never 403;
- refuses writes (any non-GET/HEAD/OPTIONS request) below the view's `write_role` with 403.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from core_app.models import Membership, Organization
from core_app.roles import Role, has_role

SESSION_KEY = "flowgate_org"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
READ_ONLY_MESSAGE = "Your role in this organization does not allow this change."


def memberships(request):
    """[(organization, role)] of the signed-in person, by organization name; cached on the request.

    Superusers count as owners of every organization (as in Organization.role_of()).
    """
    if not hasattr(request, "_flowgate_memberships"):
        user = request.user
        if not user.is_authenticated or not user.is_active:
            found = []
        elif user.is_superuser:
            found = [(org, Role.OWNER) for org in Organization.objects.order_by("name")]
        else:
            rows = Membership.objects.filter(user=user).select_related("organization")
            found = sorted(((row.organization, row.role) for row in rows), key=lambda pair: pair[0].name)
        request._flowgate_memberships = found
    return request._flowgate_memberships


def current_membership(request):
    """(organization, role) the person works in: the one in the session, else their first; (None, None)."""
    found = memberships(request)
    if not found:
        return None, None
    slug = request.session.get(SESSION_KEY)
    for org, role in found:
        if org.slug == slug:
            return org, role
    return found[0]


def switch_org(request, slug):
    """Make the organization `slug` current; False when the person is not a member of it."""
    for org, _role in memberships(request):
        if org.slug == slug:
            request.session[SESSION_KEY] = org.slug
            return True
    return False


def is_htmx(request):
    """Whether htmx asked (it wants a partial, not the whole page)."""
    return request.headers.get("HX-Request") == "true"


class OrgPageMixin:
    """Mix into every page view (first in MRO). Sets `self.org` and `self.role`.

    `write_role`: the role needed to POST to the view (and to see its edit controls, `can_write`).
    """

    write_role = Role.EDITOR

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        self.org, self.role = current_membership(request)
        if self.org is None:
            return render(request, "flowgate_site/no_organization.html", status=403)
        if request.method not in SAFE_METHODS and not self.can_write():
            raise PermissionDenied(READ_ONLY_MESSAGE)
        return super().dispatch(request, *args, **kwargs)

    def can_write(self):
        return has_role(self.role, self.write_role)

    def scoped(self, model):
        """The current organization's rows of `model`, through the model's own scoping."""
        return model.objects.for_user(self.request.user).for_org(self.org)

    def get_scoped_object(self, queryset, **lookup):
        """One row of the current organization (a queryset built on scoped()), else 404."""
        return get_object_or_404(queryset, **lookup)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(org=self.org, role=self.role, can_write=self.can_write())
        return context
