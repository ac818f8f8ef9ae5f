"""/templates/validate/ (the editor's page endpoint) and POST /api/v1/validation apply one role rule:
validating writes nothing, so every member may validate, viewers included; non-members may not."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from core_app.roles import Role
from tests.conftest import client_for, make_user

from .conftest import PIPELINE_YAML

API = "/api/v1/validation"


@pytest.fixture
def bob_role():
    return Role.VIEWER


@pytest.fixture
def stranger(db):
    return make_user("stranger")  # a member of no organization


def post_page(user):
    client = Client()
    client.force_login(user)
    body = json.dumps({"config_yaml": PIPELINE_YAML})
    return client.post(reverse("templates:validate"), body, content_type="application/json")


def test_the_rule_is_any_member():
    from templates_app.validation import VALIDATE_ROLE

    assert VALIDATE_ROLE == Role.VIEWER


def test_a_viewer_may_validate_on_the_page(bob):
    response = post_page(bob)
    assert response.status_code == 200
    assert response.json()["valid"] is True


def test_a_viewer_may_validate_over_the_api(bob):
    response = client_for(bob).post(API, {"config_yaml": PIPELINE_YAML})
    assert response.status_code == 200
    assert response.json()["valid"] is True


def test_a_non_member_may_not_validate_on_the_page(stranger):
    assert post_page(stranger).status_code == 403


def test_a_non_member_may_not_validate_over_the_api(stranger):
    assert client_for(stranger).post(API, {"config_yaml": PIPELINE_YAML}).status_code == 403


def test_a_member_of_another_org_may_not_validate_for_acme_over_the_api(charlie, org):
    response = client_for(charlie).post(API, {"config_yaml": PIPELINE_YAML, "organization": "acme"})
    assert response.status_code == 400
    assert "organization" in response.json()


def test_an_anonymous_page_request_is_sent_to_sign_in(db):
    body = json.dumps({"config_yaml": PIPELINE_YAML})
    response = Client().post(reverse("templates:validate"), body, content_type="application/json")
    assert response.status_code == 302 and "/login/" in response["Location"]
