"""POST /api/v1/gateways/{id}/heartbeat: extension-mode heartbeats, authenticated by the gateway's OpAMP token."""

import pytest
from rest_framework.test import APIClient

from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token, issue_opamp_token, revoke_opamp_tokens

BODY = {"status": "online", "version": "0.135.0", "uptime_seconds": 42, "config_hash": "a" * 64}


def beat(gateway, token, body=BODY):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(f"/api/v1/gateways/{gateway.pk}/heartbeat", body, format="json")


@pytest.fixture
def token(gateway):
    return issue_opamp_token(gateway)[1]


def test_a_heartbeat_marks_the_gateway_online_and_records_its_details(gateway, token):
    response = beat(gateway, token)
    assert response.status_code == 200, response.content
    assert response.json()["heartbeat_interval_seconds"] > 0
    row = Gateway.objects.get(pk=gateway.pk)
    assert row.status == GatewayStatus.ONLINE and row.last_seen is not None
    assert row.agent_version == "0.135.0"
    heartbeat = row.health["component_health_map"]["heartbeat"]
    assert heartbeat["attributes"] == {"uptime_seconds": 42, "config_hash": "a" * 64, "version": "0.135.0"}


def test_a_degraded_heartbeat_makes_the_gateway_degraded(gateway, token):
    beat(gateway, token)
    beat(gateway, token, {**BODY, "status": "degraded"})
    row = Gateway.objects.get(pk=gateway.pk)
    assert row.status == GatewayStatus.DEGRADED and row.health["healthy"] is False


def test_another_gateways_token_gets_404(org, gateway):
    other = Gateway.objects.create(organization=org, name="gw-2")
    response = beat(gateway, issue_opamp_token(other)[1])
    assert response.status_code == 404
    assert Gateway.objects.get(pk=gateway.pk).last_seen is None


def test_a_heartbeat_without_a_token_is_401(gateway):
    response = APIClient().post(f"/api/v1/gateways/{gateway.pk}/heartbeat", BODY, format="json")
    assert response.status_code == 401


def test_a_revoked_token_is_401(gateway, token, alice):
    revoke_opamp_tokens(gateway, alice)
    response = beat(gateway, token)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_registration_token_is_not_an_opamp_token(org, gateway, alice):
    _, registration = create_registration_token(org, name="r", created_by=alice)
    assert beat(gateway, registration).status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({**BODY, "status": "offline"}, "status"),
        ({**BODY, "uptime_seconds": -1}, "uptime_seconds"),
        ({**BODY, "config_hash": "xyz"}, "config_hash"),
        ({**BODY, "colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_body_is_400_naming_the_field_and_changes_nothing(gateway, token, body, field):
    response = beat(gateway, token, body)
    assert response.status_code == 400 and field in response.json()
    assert Gateway.objects.get(pk=gateway.pk).last_seen is None
