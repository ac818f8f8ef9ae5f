"""Building blocks of the server-rendered pages: the current organization, scoping and roles.

A signed-in person works in one organization at a time, kept in the session (`SESSION_KEY`)
and chosen with the org switcher, which also remembers the choice per user (LastOrganization):
the next sign-in starts there. Every page view mixes in `OrgPageMixin`, which

- resolves the current organization and the person's role in it (one query, cached on the request);
- scopes every lookup with the model's own `for_user()` plus `for_org(current org)` (`scoped()`), so
  another organization's object is 404, never 403;
- refuses writes (any non-GET/HEAD/OPTIONS request) below the view's `write_role` with 403.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from core_app.models import LastOrganization, Membership, Organization
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
    """(organization, role) the person works in; (None, None) when they belong to none.

    The one in the session; else the one they last chose with the switcher (kept across sign-ins);
    else the one they joined first. Never simply the first by name: being added to another
    organization must not move anyone there. The role is always the role in that organization.
    """
    found = memberships(request)
    if not found:
        return None, None
    if len(found) == 1:
        return found[0]
    by_slug = {org.slug: (org, role) for org, role in found}
    slug = request.session.get(SESSION_KEY)
    if slug in by_slug:
        return by_slug[slug]
    user = request.user
    remembered = LastOrganization.objects.filter(user=user).values_list("organization__slug", flat=True).first()
    if remembered not in by_slug:
        joined = Membership.objects.filter(user=user).order_by("created_at", "pk")
        remembered = joined.values_list("organization__slug", flat=True).first()
    chosen = by_slug.get(remembered, found[0])
    request.session[SESSION_KEY] = chosen[0].slug
    return chosen


def switch_org(request, slug):
    """Make the organization `slug` current, here and at the next sign-in; False when not a member of it."""
    for org, _role in memberships(request):
        if org.slug == slug:
            request.session[SESSION_KEY] = org.slug
            LastOrganization.objects.update_or_create(user=request.user, defaults={"organization": org})
            return True
    return False


def shown_role(user, membership_role):
    """The role a member has in an organization, as every page shows it.

    Superusers act as owners everywhere (Organization.role_of(), the header badge), whatever
    their membership row says; showing that row's role beside an "Owner" badge would contradict it.
    """
    return Role.OWNER if user.is_superuser else membership_role


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
