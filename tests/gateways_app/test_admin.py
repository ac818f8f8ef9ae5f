import pytest
from django.contrib.messages import get_messages
from django.test import Client

from core_app.models import AuditLog
from core_app.roles import Role
from gateways_app import services
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken, RegistrationToken, Tag
from gateways_app.tokens import verify_registration_token


def login(user):
    client = Client()
    client.force_login(user)
    return client


def run_action(client, model, action, rows):
    return client.post(
        f"/admin/gateways_app/{model}/",
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )


def message_texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_gateway_list_shows_only_the_users_orgs(alice, gateway, other_org):
    Gateway.objects.create(organization=other_org, name="globex-gw")
    body = login(alice).get("/admin/gateways_app/gateway/").content.decode()
    assert "gw-1" in body and "globex-gw" not in body


def test_other_orgs_gateways_are_not_found(charlie, gateway):
    response = login(charlie).get(f"/admin/gateways_app/gateway/{gateway.pk}/change/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert any("doesn’t exist" in text for text in message_texts(response))


def test_the_tag_filter_offers_only_own_tags(alice, gateway, other_org):
    gateway.tags.add(Tag.objects.create(organization=gateway.organization, key="env", value="prod"))
    Tag.objects.create(organization=other_org, key="secret", value="project")
    body = login(alice).get("/admin/gateways_app/gateway/").content.decode()
    assert "env=prod" in body and "secret=project" not in body


def test_gateways_cannot_be_added_in_the_admin(alice, org):
    assert login(alice).get("/admin/gateways_app/gateway/add/").status_code == 403


def test_mark_offline_action(alice, gateway):
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE)
    response = run_action(login(alice), "gateway", "mark_offline", [gateway])
    gateway.refresh_from_db()
    assert gateway.status == GatewayStatus.OFFLINE
    assert "1 gateway(s) marked offline." in message_texts(response)


def test_revoke_opamp_tokens_action(alice, gateway):
    services.issue_opamp_token(gateway)
    services.issue_opamp_token(gateway)
    response = run_action(login(alice), "gateway", "revoke_tokens", [gateway])
    assert not OpAMPToken.objects.filter(revoked_at__isnull=True).exists()
    assert "2 OpAMP token(s) revoked." in message_texts(response)


@pytest.mark.parametrize("bob_role", [Role.EDITOR])
def test_editors_cannot_run_gateway_actions(bob, gateway, bob_role):
    services.issue_opamp_token(gateway)
    run_action(login(bob), "gateway", "revoke_tokens", [gateway])
    assert OpAMPToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_editing_a_gateway_is_audited(alice, gateway):
    response = login(alice).post(f"/admin/gateways_app/gateway/{gateway.pk}/change/", {"name": "renamed", "tags": []})
    assert response.status_code == 302
    gateway.refresh_from_db()
    assert gateway.name == "renamed"
    assert AuditLog.objects.get(action="gateway.updated").changes == {"fields": ["name"]}


def test_adding_a_registration_token_shows_it_once(alice, org):
    client = login(alice)
    response = client.post(
        "/admin/gateways_app/registrationtoken/add/",
        {"organization": org.pk, "name": "rack 9", "max_uses": 2},
        follow=True,
    )
    [text] = [m for m in message_texts(response) if "Copy it now" in m]
    row = verify_registration_token(text.rsplit(" ", 1)[1])
    assert (row.name, row.max_uses, row.created_by) == ("rack 9", 2, alice)
    # The next page load no longer carries it.
    assert "Copy it now" not in client.get("/admin/gateways_app/registrationtoken/").content.decode()


def test_a_registration_token_cannot_take_another_orgs_tag(alice, org, other_org):
    tag = Tag.objects.create(organization=other_org, key="env", value="prod")
    response = login(alice).post(
        "/admin/gateways_app/registrationtoken/add/",
        {"organization": org.pk, "name": "t", "max_uses": 1, "tags": [tag.pk]},
    )
    assert response.status_code == 200  # the form again, with an error
    assert not RegistrationToken.objects.exists()


def test_revoke_registration_token_action(alice, registration):
    run_action(login(alice), "registrationtoken", "revoke", [registration[0]])
    registration[0].refresh_from_db()
    assert registration[0].state() == "revoked"


def test_opamp_tokens_are_read_only_but_revocable(alice, gateway):
    row, _ = services.issue_opamp_token(gateway)
    client = login(alice)
    assert client.get("/admin/gateways_app/opamptoken/add/").status_code == 403
    response = client.post(f"/admin/gateways_app/opamptoken/{row.pk}/change/", {"jti": "changed"})
    assert response.status_code == 403
    run_action(client, "opamptoken", "revoke", [row])
    row.refresh_from_db()
    assert row.revoked_at is not None and row.jti != "changed"
