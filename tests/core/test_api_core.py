import pytest
from rest_framework.test import APIClient

from core_app import audit
from core_app.models import AuditLog, OrgSettings
from core_app.roles import Role
from core_app.services import create_api_token


def test_it_lists_only_my_organizations_with_my_role(api_client, org, other_org):
    response = api_client.get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [(o["slug"], o["role"]) for o in response.json()["results"]] == [("acme", "owner")]


def test_it_shows_settings_with_defaults(api_client, org):
    response = api_client.get("/api/v1/settings/acme/")
    assert response.status_code == 200
    body = response.json()
    assert body["opamp_token_lifetime_days"] == 365
    assert body["registration_token_lifetime_hours"] == 24


def test_owner_changes_settings_and_it_is_audited(api_client, org):
    response = api_client.patch("/api/v1/settings/acme/", {"heartbeat_interval_seconds": 15})
    assert response.status_code == 200
    assert OrgSettings.objects.get(organization=org).heartbeat_interval_seconds == 15
    entry = AuditLog.objects.get(action="settings.updated")
    assert entry.changes == {"heartbeat_interval_seconds": {"from": 30, "to": 15}}
    assert entry.actor_name == "alice"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"heartbeat_interval_seconds": 1}, "heartbeat_interval_seconds"),
        ({"heartbeat_interval_seconds": "often"}, "heartbeat_interval_seconds"),
        ({"default_canary_percent": 101}, "default_canary_percent"),
        ({"extra_allowed_components": "kafka"}, "extra_allowed_components"),
        ({"extra_allowed_components": ["Not A Type"]}, "extra_allowed_components"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_it_rejects_bad_settings_naming_the_field(api_client, org, body, field):
    response = api_client.patch("/api/v1/settings/acme/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert OrgSettings.objects.get(organization=org).heartbeat_interval_seconds == 30


class TestEditorsCannotChangeSettings:
    def test_it_refuses(self, bob_client, org):
        response = bob_client.patch("/api/v1/settings/acme/", {"heartbeat_interval_seconds": 15})
        assert response.status_code == 403


def test_other_orgs_settings_are_not_found(charlie_client, org):
    assert charlie_client.get("/api/v1/settings/acme/").status_code == 404
    assert charlie_client.patch("/api/v1/settings/acme/", {"heartbeat_interval_seconds": 15}).status_code == 404


def test_audit_log_lists_and_filters_my_org_only(api_client, alice, org, other_org):
    audit.record(org, "template.created", user=alice)
    audit.record(org, "gateway.enrolled", user=alice)
    audit.record(other_org, "template.created")
    response = api_client.get("/api/v1/audit-logs/", {"action": "template"})
    assert response.status_code == 200
    assert [e["action"] for e in response.json()["results"]] == ["template.created"]
    assert response.json()["count"] == 1


def test_audit_log_is_read_only_through_the_api(api_client, alice, org):
    entry = audit.record(org, "template.created", user=alice)
    assert api_client.delete(f"/api/v1/audit-logs/{entry.pk}/").status_code == 405
    assert api_client.post("/api/v1/audit-logs/", {"action": "x"}).status_code == 405


def test_it_authenticates_with_a_personal_api_token(alice, org):
    _, plaintext = create_api_token(alice)
    for scheme in ("Token", "Bearer"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {plaintext}")
        assert client.get("/api/v1/organizations/").status_code == 200


def test_it_rejects_a_wrong_api_token(alice, org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token fgu_not-a-real-token")
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 401
    assert "API token" in response.json()["detail"]


def test_anonymous_callers_get_401_or_403(db):
    assert APIClient().get("/api/v1/organizations/").status_code in (401, 403)


@pytest.fixture
def bob_role():
    return Role.EDITOR
