"""YAML that PyYAML parses but Python cannot build is a located validation error on every front door
(API validation, template and version creation over the API, the page's validate, new template and
new version pages, the admin), never a 500. JSON bodies holding lone surrogates are a 400."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from templates_app.models import ConfigTemplate

from .conftest import PIPELINE_YAML

# name -> (YAML, line, column of the bad value)
BAD_YAML = {
    "month 13": (PIPELINE_YAML + "extensions:\n  since: 2020-13-45\n", 13, 10),
    "year 0": ("receivers:\n  otlp:\n    since: 0000-01-01\n", 3, 12),
    "offset of 25 hours": ("receivers:\n  otlp:\n    at: 2020-01-01T00:00:00+25:00\n", 3, 9),
    "5,000 digits": ("receivers:\n  otlp:\n    port: " + "4" * 5000 + "\n", 3, 11),
}
CASES = pytest.mark.parametrize("case", BAD_YAML)


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def assert_located(message, line, column):
    assert message.startswith(f"line {line}, column {column}: "), message


@CASES
def test_api_validation_locates_it(api_client, org, case):
    text, line, column = BAD_YAML[case]
    response = api_client.post("/api/v1/validation", {"config_yaml": text})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert (error["code"], error["line"], error["column"]) == ("yaml.value", line, column)


@CASES
def test_api_template_creation_refuses_it_with_its_position(api_client, org, case):
    text, line, column = BAD_YAML[case]
    response = api_client.post("/api/v1/templates/", {"name": "t", "config_yaml": text})
    assert response.status_code == 400
    assert_located(response.json()["config_yaml"][0], line, column)
    assert not ConfigTemplate.objects.exists()


@CASES
def test_api_version_creation_refuses_it_with_its_position(api_client, template, case):
    text, line, column = BAD_YAML[case]
    response = api_client.post(f"/api/v1/templates/{template.pk}/versions/", {"config_yaml": text})
    assert response.status_code == 400
    assert_located(response.json()["config_yaml"][0], line, column)


@CASES
def test_the_page_validate_endpoint_locates_it(alice, org, case):
    text, line, column = BAD_YAML[case]
    body = json.dumps({"config_yaml": text, "type": "full"})
    response = signed_in(alice).post(reverse("templates:validate"), body, content_type="application/json")
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert (error["line"], error["column"]) == (line, column)


@CASES
def test_the_new_version_page_shows_it_on_the_field(alice, template, case):
    text, line, column = BAD_YAML[case]
    data = {"config_yaml": text, "change_summary": ""}
    response = signed_in(alice).post(reverse("templates:edit", args=[template.pk]), data)
    assert response.status_code == 200
    assert_located(response.context["form"].errors["config_yaml"][0], line, column)
    assert template.versions.count() == 1


@CASES
def test_the_new_template_page_shows_it_on_the_field(alice, org, case):
    text, line, column = BAD_YAML[case]
    data = {"name": "t", "type": "full", "description": "", "config_yaml": text, "change_summary": ""}
    response = signed_in(alice).post(reverse("templates:create"), data)
    assert response.status_code == 200
    assert_located(response.context["form"].errors["config_yaml"][0], line, column)


@CASES
def test_the_admin_shows_it_on_the_field(alice, template, case):
    text, line, column = BAD_YAML[case]
    body = {"template": template.pk, "config_yaml": text, "change_summary": ""}
    response = signed_in(alice).post("/admin/templates_app/templateversion/add/", body)
    assert response.status_code == 200
    assert_located(response.context["adminform"].form.errors["config_yaml"][0], line, column)


# Lone surrogates only arrive in JSON (\ud800 escapes); form bodies decode them to U+FFFD.
SURROGATE_YAML = '{"config_yaml": "receivers:\\n  otlp\\ud800: {}\\n"}'


def test_api_validation_locates_a_lone_surrogate_in_the_yaml(api_client, org):
    response = api_client.post("/api/v1/validation", SURROGATE_YAML, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


def test_the_page_validate_endpoint_locates_a_lone_surrogate(alice, org):
    response = signed_in(alice).post(reverse("templates:validate"), SURROGATE_YAML, content_type="application/json")
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert (error["line"], error["column"]) == (2, 7)


def test_the_page_validate_endpoint_locates_an_escaped_surrogate_in_yaml(alice, org):
    body = json.dumps({"config_yaml": 'receivers:\n  "otlp\\ud800": {}\n'})
    response = signed_in(alice).post(reverse("templates:validate"), body, content_type="application/json")
    [error] = response.json()["errors"]
    assert (error["code"], error["line"], error["column"]) == ("yaml.value", 2, 3)
    assert "lone surrogate" in error["message"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/templates/", '{"name": "t\\udc00", "config_yaml": "a: 1\\n"}'),
        ("/api/v1/templates/", '{"name": "t", "description": "\\ud83d"}'),
        ("/api/v1/agent-tags/", '{"key": "k", "value": "\\ud800"}'),
        ("/api/v1/registration-tokens/", '{"name": "\\ud800"}'),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_json_body_is_a_400(api_client, org, path, body):
    response = api_client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]


def test_an_escaped_surrogate_pair_is_one_character_and_accepted(api_client, org):
    body = '{"name": "smile \\ud83d\\ude00"}'
    response = api_client.post("/api/v1/templates/", body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["name"] == "smile 😀"


def test_a_version_with_an_escaped_surrogate_in_the_yaml_is_refused(api_client, template):
    body = json.dumps({"config_yaml": 'receivers:\n  "otlp\\ud800": {}\n'})
    response = api_client.post(f"/api/v1/templates/{template.pk}/versions/", body, content_type="application/json")
    assert response.status_code == 400
    assert_located(response.json()["config_yaml"][0], 2, 3)


def test_enrollment_refuses_a_lone_surrogate_in_its_body(client, org):
    from gateways_app.services import create_registration_token

    _, raw = create_registration_token(org, name="t", created_by=None)
    body = '{"name": "gw\\ud800"}'
    response = client.post(
        "/api/v1/gateways/register", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]


def test_a_json_body_nested_too_deeply_is_a_400(api_client, org):
    body = "[" * 100_000 + "]" * 100_000  # Python's JSON decoder gives up with a RecursionError
    response = api_client.post("/api/v1/validation", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
