"""A database outage answers 503 + Retry-After, never a 500 page or a 401 (docs/security.md, "Database outages")."""

import pytest

from gateways_app.services import create_registration_token
from tests.conftest import database_outage

pytestmark = pytest.mark.django_db


def test_an_api_token_lookup_that_fails_is_503_not_401(client, database_down, settings):
    settings.FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS = 20
    response = client.get("/api/v1/gateways/", HTTP_AUTHORIZATION="Token fgu_whatever-it-is")
    assert response.status_code == 503
    assert response["Retry-After"] == "20"
    assert "database" in response.json()["detail"].lower()


def test_an_api_query_that_fails_is_503(api_client, database_down):
    response = api_client.get("/api/v1/gateways/")
    assert response.status_code == 503 and "Retry-After" in response


def test_enrollment_is_503_when_the_database_is_down(client, org, alice, settings):
    _, jwt = create_registration_token(org, name="bootstrap", created_by=alice)
    with database_outage():
        response = client.post(
            "/api/v1/gateways/register", {"name": "gw"}, "application/json", HTTP_AUTHORIZATION=f"Bearer {jwt}"
        )
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS)


def test_a_page_is_a_503_page_with_retry_after(client, alice):
    client.force_login(alice)
    with database_outage():
        response = client.get("/gateways/")
    assert response.status_code == 503
    assert "Retry-After" in response
    assert "database" in response.content.decode().lower()
