"""Every page of another organization's object answers 404, discovered from the URL resolver.

alice (owner of acme) opens globex's objects by URL, with GET and POST: never 200, never 403,
never a change. `test_every_page_route_has_a_case` fails when a new page route appears without
an entry in OTHER_ORG_PAGES (or in NO_OBJECT_PAGES).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from deployments_app.models import DeploymentStatus
from gateways_app.models import OpAMPToken, RegistrationToken

PAGE_NAMESPACES = {"core", "dashboard", "templates", "deployments", "gateways"}

# Pages about no particular object (lists, forms, the org switcher): scoped by the current org instead.
NO_OBJECT_PAGES = {
    "core:login",
    "core:logout",
    "core:switch-org",
    "core:settings",
    "core:audit-log",
    "dashboard:index",
    "templates:list",
    "templates:create",
    "templates:validate",
    "deployments:list",
    "deployments:create",
    "deployments:preview",
    "gateways:list",
    "gateways:tokens",
    "gateways:token-create",
}

# url name -> reverse() args built from globex's objects.
OTHER_ORG_PAGES = {
    "templates:detail": lambda g: [g["template"].pk],
    "templates:edit": lambda g: [g["template"].pk],
    "templates:diff": lambda g: [g["template"].pk],
    "templates:version": lambda g: [g["template"].pk, g["version"].number],
    "templates:rollback": lambda g: [g["template"].pk, 1],
    "templates:comparison": lambda g: [g["template"].pk, g["version"].number],
    "deployments:detail": lambda g: [g["deployment"].pk],
    "deployments:action": lambda g: [g["deployment"].pk, "cancel"],
    "deployments:comparison": lambda g: [g["deployment"].pk],
    "gateways:detail": lambda g: [g["gateway"].pk],
    "gateways:edit": lambda g: [g["gateway"].pk],
    "gateways:reissue-token": lambda g: [g["gateway"].pk],
    "gateways:revoke-token": lambda g: [g["gateway"].pk],
    "gateways:restart": lambda g: [g["gateway"].pk],
    "gateways:token-revoke": lambda g: [g["token"].pk],
}


def page_routes():
    names = set()

    def walk(items, namespace):
        for item in items:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, item.namespace or namespace)
            elif isinstance(item, URLPattern) and namespace in PAGE_NAMESPACES and item.name:
                names.add(f"{namespace}:{item.name}")

    walk(get_resolver().url_patterns, None)
    return names


def test_every_page_route_has_a_case():
    missing = page_routes() - NO_OBJECT_PAGES - set(OTHER_ORG_PAGES)
    assert not missing, f"page routes without a cross-organization case: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OTHER_ORG_PAGES))
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_orgs_object_is_not_found(name, method, alice_browser, acme_fleet, globex_fleet):
    url = reverse(name, args=OTHER_ORG_PAGES[name](globex_fleet))
    response = getattr(alice_browser, method)(url)
    assert response.status_code in (404, 405), (url, response.status_code)
    if method == "get" and response.status_code == 404:
        assert b"Not found" in response.content  # the 404 page, not a stack trace


@pytest.mark.django_db
def test_posts_to_another_orgs_objects_change_nothing(alice_browser, acme_fleet, globex_fleet):
    for name in OTHER_ORG_PAGES:
        alice_browser.post(reverse(name, args=OTHER_ORG_PAGES[name](globex_fleet)), {"name": "stolen"})
    globex_fleet["deployment"].refresh_from_db()
    globex_fleet["gateway"].refresh_from_db()
    assert globex_fleet["deployment"].status == DeploymentStatus.ROLLING_OUT
    assert globex_fleet["gateway"].name == "globex-0"
    assert not OpAMPToken.objects.filter(gateway=globex_fleet["gateway"]).exists()
    assert RegistrationToken.objects.get(pk=globex_fleet["token"].pk).revoked_at is None


@pytest.mark.django_db
def test_lists_show_only_the_current_orgs_rows(alice_browser, acme_fleet, globex_fleet):
    for name in ("templates:list", "gateways:list", "deployments:list", "gateways:tokens", "core:audit-log"):
        content = alice_browser.get(reverse(name)).content.decode()
        assert "globex" not in content, name
        assert "acme" in content, name
