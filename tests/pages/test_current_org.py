"""The current organization (issue 13, point 7): it changes only when the person switches, and every
role shown is the role in the organization shown."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass-123"


def sign_in(username):
    client = Client()
    response = client.post(reverse("core:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def header(content):
    """(organization selected in the switcher, role on the header badge)."""
    org = re.search(r'<option value="([^"]+)" selected>', content).group(1)
    role = re.search(r'<span class="badge role role-\w+"[^>]*>(\w+)</span>', content).group(1)
    return org, role


def member_roles(content):
    """{username: [badges of their row]} of the members table on the settings page."""
    table = content[content.index("<h2>Members</h2>") :]
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", table, re.S)
    return {name: re.findall(r'<span class="badge[^"]*"[^>]*>([^<]+)</span>', rest) for name, rest in rows}


def test_being_added_to_another_org_does_not_move_anyone_there():
    zeta = create_organization("zeta", "Zeta")
    dana = make_user("dana")
    set_membership(zeta, dana, Role.OWNER)
    set_membership(create_organization("acme", "Acme"), dana, Role.VIEWER)  # sorts first by name

    content = sign_in("dana").get(reverse("core:settings")).content.decode()
    assert header(content) == ("zeta", "Owner")
    assert member_roles(content)["dana"] == ["Owner"]


def test_the_next_sign_in_starts_in_the_org_last_chosen(alice, other_org):
    set_membership(other_org, alice, Role.VIEWER)
    browser = sign_in("alice")
    assert header(browser.get("/").content.decode()) == ("acme", "Owner")
    browser.post(reverse("core:switch-org"), {"org": "globex", "next": "/"})
    browser.post(reverse("core:logout"))

    content = sign_in("alice").get(reverse("core:settings")).content.decode()
    assert header(content) == ("globex", "Viewer")
    assert member_roles(content)["alice"] == ["Viewer"]
    assert "Settings of Globex" in content


def test_a_remembered_org_one_has_left_is_not_used(alice, other_org):
    membership = set_membership(other_org, alice, Role.VIEWER)
    browser = sign_in("alice")
    browser.post(reverse("core:switch-org"), {"org": "globex", "next": "/"})
    membership.delete()
    browser.post(reverse("core:logout"))

    assert header(sign_in("alice").get("/").content.decode()) == ("acme", "Owner")


def test_each_browser_keeps_its_own_org_for_its_session(alice, other_org):
    set_membership(other_org, alice, Role.EDITOR)
    laptop, desktop = sign_in("alice"), sign_in("alice")
    assert header(desktop.get("/").content.decode()) == ("acme", "Owner")
    laptop.post(reverse("core:switch-org"), {"org": "globex", "next": "/"})
    assert header(desktop.get("/").content.decode()) == ("acme", "Owner")
    assert header(laptop.get("/").content.decode()) == ("globex", "Editor")


def test_a_superusers_role_is_owner_on_the_badge_and_in_the_members_table(org):
    root = make_user("root", is_staff=True, is_superuser=True)
    set_membership(org, root, Role.VIEWER)
    content = sign_in("root").get(reverse("core:settings")).content.decode()

    assert header(content) == ("acme", "Owner")
    assert member_roles(content)["root"] == ["Owner", "superuser"]
    assert "membership role: Viewer" in content  # the stored row is not hidden, only not shown as the role


def test_a_superuser_starts_in_an_org_they_belong_to_not_the_first_of_all(org):
    zeta = create_organization("zeta", "Zeta")
    root = make_user("root", is_staff=True, is_superuser=True)
    set_membership(zeta, root, Role.OWNER)
    assert header(sign_in("root").get("/").content.decode()) == ("zeta", "Owner")
