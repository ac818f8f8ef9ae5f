from core_app.models import Organization
from core_app.roles import Role
from gateways_app.models import Gateway


def test_it_scopes_rows_to_the_users_organizations(alice, charlie, org, other_org):
    Gateway.objects.create(organization=org, name="a")
    Gateway.objects.create(organization=other_org, name="b")
    assert list(Gateway.objects.for_user(alice).values_list("name", flat=True)) == ["a"]
    assert list(Gateway.objects.for_user(charlie).values_list("name", flat=True)) == ["b"]


def test_it_limits_by_minimum_role(bob, org):
    # bob is an editor: enough to edit, not enough for admin-only things.
    assert list(Organization.objects.for_user(bob, min_role=Role.EDITOR)) == [org]
    assert list(Organization.objects.for_user(bob, min_role=Role.ADMIN)) == []


def test_it_scopes_child_rows_through_their_parent(alice, charlie, org):
    from django.utils import timezone

    from gateways_app.models import OpAMPToken

    gw = Gateway.objects.create(organization=org, name="a")
    OpAMPToken.objects.create(gateway=gw, jti="x", issued_at=timezone.now(), expires_at=timezone.now())
    assert OpAMPToken.objects.for_user(alice).count() == 1
    assert OpAMPToken.objects.for_user(charlie).count() == 0


def test_anonymous_users_see_nothing(org):
    from django.contrib.auth.models import AnonymousUser

    Gateway.objects.create(organization=org, name="a")
    assert Gateway.objects.for_user(AnonymousUser()).count() == 0
