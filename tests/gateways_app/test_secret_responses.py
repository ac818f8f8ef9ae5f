"""Answers that show a secret once (a new registration token, a reissued OpAMP token, enrollment's
OpAMP token) tell every cache, the browser's included, not to keep them: Cache-Control: no-store."""

import pytest
from django.test import Client
from django.urls import reverse

from gateways_app.models import Gateway
from gateways_app.services import create_registration_token


def assert_not_stored(response):
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert "no-store" in directives, response.get("Cache-Control")


@pytest.fixture
def gateway(org):
    return Gateway.objects.create(organization=org, name="gw-1")


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_page_showing_a_new_registration_token_is_not_stored(alice, org):
    response = signed_in(alice).post(reverse("gateways:token-create"), {"name": "t", "max_uses": 1})
    assert response.status_code == 200 and b"eyJ" in response.content
    assert_not_stored(response)


def test_the_page_showing_a_reissued_opamp_token_is_not_stored(alice, gateway):
    response = signed_in(alice).post(reverse("gateways:reissue-token", args=[gateway.pk]))
    assert response.status_code == 200 and b"eyJ" in response.content
    assert_not_stored(response)


def test_the_api_answer_with_a_new_registration_token_is_not_stored(api_client, org):
    response = api_client.post("/api/v1/registration-tokens/", {"name": "t"})
    assert response.status_code == 201 and response.json()["token"]
    assert_not_stored(response)


def test_the_api_answer_with_a_reissued_opamp_token_is_not_stored(api_client, gateway):
    response = api_client.post(f"/api/v1/gateways/{gateway.pk}/reissue-token/")
    assert response.status_code == 200 and response.json()["opamp_token"]
    assert_not_stored(response)


def test_the_enrollment_answer_with_the_opamp_token_is_not_stored(enroll_client, org):
    _, raw = create_registration_token(org, name="t", created_by=None)
    response = enroll_client(raw, {"name": "gw-new"})
    assert response.status_code == 201 and response.json()["opamp_token"]
    assert_not_stored(response)


def test_the_admin_page_showing_a_new_registration_token_is_not_stored(alice, org):
    client = signed_in(alice)
    data = {"organization": org.pk, "name": "t", "max_uses": 1}
    response = client.post("/admin/gateways_app/registrationtoken/add/", data, follow=True)
    assert b"not shown again" in response.content
    assert_not_stored(response)


def test_a_list_without_secrets_may_be_cached_as_usual(api_client, gateway):
    # no-store is for answers that carry a secret, not a blanket header.
    assert "no-store" not in api_client.get("/api/v1/gateways/").get("Cache-Control", "")
