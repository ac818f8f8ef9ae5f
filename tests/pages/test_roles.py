"""Viewers read every page but see no edit controls, and their writes are refused with 403."""

import pytest
from django.urls import reverse

from core_app.roles import Role
from deployments_app.models import Deployment
from templates_app.models import ConfigTemplate

from .conftest import CONFIG_V1

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_role():
    return Role.VIEWER


def write_requests(fleet):
    template, gateway, deployment = fleet["template"], fleet["gateway"], fleet["deployment"]
    return [
        (reverse("templates:create"), {"name": "new", "type": "full", "config_yaml": CONFIG_V1}),
        (reverse("templates:edit", args=[template.pk]), {"config_yaml": CONFIG_V1, "change_summary": "x"}),
        (reverse("templates:rollback", args=[template.pk, 1]), {}),
        (reverse("deployments:create"), {"template_version": fleet["version"].pk, "selector_tags": fleet["tag"].pk}),
        (reverse("deployments:action", args=[deployment.pk, "cancel"]), {}),
        (reverse("gateways:edit", args=[gateway.pk]), {"name": "renamed"}),
        (reverse("gateways:revoke-token", args=[gateway.pk]), {}),
        (reverse("gateways:token-create"), {"name": "t", "max_uses": 1}),
        (reverse("gateways:token-revoke", args=[fleet["token"].pk]), {}),
        (reverse("core:settings"), {"heartbeat_interval_seconds": 10}),
    ]


def test_a_viewer_is_refused_every_write(bob_browser, acme_fleet):
    for url, data in write_requests(acme_fleet):
        response = bob_browser.post(url, data)
        assert response.status_code == 403, url
        assert b"Not allowed" in response.content
    assert ConfigTemplate.objects.count() == 1
    assert Deployment.objects.get().status == "rolling_out"


@pytest.mark.parametrize(
    "name,args,control",
    [
        ("dashboard:index", [], "New deployment"),
        ("templates:list", [], "New template"),
        ("templates:detail", ["template"], "Edit (new version)"),
        ("templates:version", ["template", 1], "Roll back to this version"),
        ("deployments:list", [], "New deployment"),
        ("deployments:detail", ["deployment"], "Roll back"),
        ("gateways:detail", ["gateway"], "Revoke OpAMP token"),
        ("gateways:tokens", [], "New registration token"),
        ("core:settings", [], "Save settings"),
    ],
)
def test_a_viewer_sees_no_edit_controls(name, args, control, bob_browser, alice_browser, acme_fleet):
    url = reverse(name, args=[acme_fleet[a].pk if isinstance(a, str) else a for a in args])
    assert control in alice_browser.get(url).content.decode()  # the owner has the control...
    page = bob_browser.get(url)
    assert page.status_code == 200
    assert control not in page.content.decode()  # ...the viewer does not


def test_the_role_is_shown_beside_the_org(bob_browser, acme_fleet):
    content = bob_browser.get(reverse("dashboard:index")).content.decode()
    assert 'title="Your role in Acme">Viewer</span>' in content


@pytest.mark.parametrize("bob_role", [Role.EDITOR])
def test_an_editor_may_not_change_gateways_which_need_admin(bob_browser, acme_fleet):
    response = bob_browser.post(reverse("gateways:edit", args=[acme_fleet["gateway"].pk]), {"name": "renamed"})
    assert response.status_code == 403
