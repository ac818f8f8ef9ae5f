from datetime import timedelta

import pytest
from django.utils import timezone

from core_app.models import AuditLog
from core_app.roles import Role
from core_app.services import get_org_settings
from gateways_app import services
from gateways_app.models import RegistrationToken
from gateways_app.tokens import verify_registration_token

URL = "/api/v1/registration-tokens/"


def test_a_new_token_is_active_and_lives_the_org_lifetime(registration):
    row, _ = registration
    assert row.state() == "active"
    assert row.expires_at - row.created_at == pytest.approx(timedelta(hours=24), abs=timedelta(seconds=2))


def test_the_org_setting_sets_the_default_lifetime(org, alice):
    org_settings = get_org_settings(org)
    org_settings.registration_token_lifetime_hours = 2
    org_settings.save()
    now = timezone.now().replace(microsecond=0)
    row, _ = services.create_registration_token(org, name="t", created_by=alice, now=now)
    assert row.expires_at == now + timedelta(hours=2)


@pytest.mark.parametrize(
    "change, state",
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
        ({"uses": 1}, "used up"),
    ],
)
def test_a_token_reports_its_state(registration, change, state):
    row, _ = registration
    RegistrationToken.objects.filter(pk=row.pk).update(**change)
    row.refresh_from_db()
    assert row.state() == state


def test_it_refuses_zero_uses(org, alice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.create_registration_token(org, name="t", created_by=alice, max_uses=0)
    assert not RegistrationToken.objects.exists()


def test_it_creates_a_token_and_shows_it_once(api_client, org):
    r = api_client.post(URL, {"name": "rack 4", "ttl_seconds": 3600, "max_uses": 5, "tags": ["rack=4"]})
    assert r.status_code == 201, r.json()
    body = r.json()
    row = verify_registration_token(body["token"])
    assert (row.name, row.max_uses, body["state"], body["tags"]) == ("rack 4", 5, "active", ["rack=4"])
    assert body["organization"] == "acme" and body["created_by"] == "alice"
    assert "token" not in api_client.get(f"{URL}{row.pk}/").json()
    assert AuditLog.objects.filter(action="registration_token.created").count() == 1


def test_it_lists_tokens_with_their_state(api_client, registration, alice):
    services.revoke_registration_token(registration[0], alice)
    services.create_registration_token(registration[0].organization, name="fresh", created_by=alice)
    rows = api_client.get(URL).json()["results"]
    assert {(row["name"], row["state"]) for row in rows} == {("bootstrap", "revoked"), ("fresh", "active")}
    assert all("token" not in row and "jti" not in row for row in rows)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "t", "max_uses": 0}, "max_uses"),
        ({"name": "t", "ttl_seconds": 0}, "ttl_seconds"),
        ({"name": "t", "tags": ["bad"]}, "tags"),
        ({"name": "t", "uses": 3}, "uses"),
        ({"name": "t", "organization": "globex"}, "organization"),
    ],
)
def test_it_rejects_bad_token_requests(api_client, other_org, body, field):
    r = api_client.post(URL, body)
    assert r.status_code == 400 and field in r.json()
    assert not RegistrationToken.objects.exists()


def test_it_revokes_a_token(api_client, registration):
    row, raw = registration
    r = api_client.post(f"{URL}{row.pk}/revoke/")
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert AuditLog.objects.filter(action="registration_token.revoked").exists()


def test_it_deletes_a_token(api_client, registration):
    assert api_client.delete(f"{URL}{registration[0].pk}/").status_code == 204
    assert not RegistrationToken.objects.exists()


@pytest.mark.parametrize("bob_role", [Role.VIEWER, Role.EDITOR])
def test_it_needs_the_admin_role_for_tokens(bob_client, registration, bob_role):
    assert bob_client.get(URL).status_code == 200
    assert bob_client.post(URL, {"name": "t"}).status_code == 403
    assert bob_client.post(f"{URL}{registration[0].pk}/revoke/").status_code == 403
    assert bob_client.delete(f"{URL}{registration[0].pk}/").status_code == 403


def test_it_hides_other_orgs_tokens(charlie_client, registration):
    assert charlie_client.get(URL).json()["results"] == []
    assert charlie_client.get(f"{URL}{registration[0].pk}/").status_code == 404
    assert charlie_client.post(f"{URL}{registration[0].pk}/revoke/").status_code == 404
