"""Template context of every page: the organizations of the signed-in person for the org switcher."""

from core_app.pages import current_membership, memberships


def organizations(request):
    """`memberships` [(org, role)], `current_org` and `current_role` (None when signed out)."""
    if not request.user.is_authenticated:
        return {}
    org, role = current_membership(request)
    return {"memberships": memberships(request), "current_org": org, "current_role": role}
