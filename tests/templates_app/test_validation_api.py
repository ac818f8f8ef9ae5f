"""POST /api/v1/validation: validate YAML without saving it."""

import pytest
from django.urls import reverse

from core_app.models import AuditLog
from core_app.roles import Role
from core_app.services import set_membership
from gateways_app.models import Gateway, Tag
from templates_app.models import TemplateVersion

from .validation_helpers import VALID, reported

URL = "/api/v1/validation"
KAFKA = VALID.replace("  otlphttp:\n    endpoint: https://collector.example.com:4318\n", "  kafka: {}\n").replace(
    "[otlphttp]", "[kafka]"
)


def tagged_gateway(org, name, label, components):
    key, value = label.split("=")
    tag, _ = Tag.objects.get_or_create(organization=org, key=key, value=value)
    gateway = Gateway.objects.create(organization=org, name=name, available_components=components)
    gateway.tags.add(tag)
    return gateway


def test_a_valid_config_answers_200_valid(api_client):
    response = api_client.post(URL, {"config_yaml": VALID})
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "validation_state": "valid",
        "errors": [],
        "warnings": [],
        "components": "the otelcol-contrib v0.130.0 catalogue",
        "deep_check": {"status": "not_requested", "message": ""},
    }


def test_the_route_takes_a_trailing_slash_too(api_client):
    assert api_client.post(URL + "/", {"config_yaml": VALID}).status_code == 200
    assert reverse("validation") in (URL, URL + "/")


def test_an_invalid_config_is_a_200_with_errors_and_their_positions(api_client):
    body = api_client.post(URL, {"config_yaml": VALID.replace("    traces:\n", "    traces/:\n")}).json()
    assert (body["valid"], body["validation_state"]) == (False, "invalid")
    assert body["errors"] == [
        {
            "code": "structure.pipeline_id",
            "message": "Invalid pipeline id 'traces/': the part after '/' is empty.",
            "path": "service.pipelines.traces/",
            "line": 12,
            "column": 5,
        }
    ]


def test_an_alias_bomb_gets_its_own_message(api_client):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    error = api_client.post(URL, {"config_yaml": bomb}).json()["errors"][0]
    assert error["code"] == "yaml.aliases" and error["line"] is not None


def test_a_10_mb_document_gets_a_clear_size_message(api_client):
    text = "receivers:\n" + "  # padding\n" * (10 * 1024 * 1024 // 12)
    response = api_client.post(URL, {"config_yaml": text})
    # Django refuses a body this large before the configuration's own limit is checked.
    assert (response.status_code, response.json()) == (
        400,
        {"config_yaml": ["The request is larger than 2621440 bytes; a configuration may have at most 1048576 bytes."]},
    )


def test_a_document_over_the_config_limit_is_an_error_with_its_size(api_client):
    text = "receivers:\n" + "  # padding\n" * (2 * 1024 * 1024 // 12)
    error = api_client.post(URL, {"config_yaml": text}).json()["errors"][0]
    assert error == {
        "code": "yaml.size",
        "message": f"The configuration is {len(text)} bytes; the limit is 1048576 bytes.",
        "path": "",
        "line": None,
        "column": None,
    }


def test_named_gateways_are_the_targets(api_client, org):
    lacking = Gateway.objects.create(organization=org, name="edge-1", available_components=reported(exporters=["otlp"]))
    body = api_client.post(URL, {"config_yaml": KAFKA, "gateways": [str(lacking.pk)]}).json()
    assert [error["message"] for error in body["errors"] if error["code"] == "component.unavailable"] == [
        "Receiver type 'otlp' is not available on gateway edge-1.",
        "Processor type 'batch' is not available on gateway edge-1.",
        "Exporter type 'kafka' is not available on gateway edge-1.",
    ]
    assert body["components"] == "the components of 1 target gateway(s)"


def test_selector_tags_pick_the_targets(api_client, org):
    full = reported(receivers=["otlp"], processors=["batch"], exporters=["kafka"])
    tagged_gateway(org, "eu-1", "env=prod", full)
    tagged_gateway(org, "eu-2", "env=prod", reported(receivers=["otlp"], processors=["batch"]))
    tagged_gateway(org, "stg-1", "env=staging", reported())
    body = api_client.post(URL, {"config_yaml": KAFKA, "selector_tags": ["env=prod"]}).json()
    assert [error["message"] for error in body["errors"]] == ["Exporter type 'kafka' is not available on gateway eu-2."]


def test_an_unknown_tag_is_a_400_naming_the_field(api_client, org):
    response = api_client.post(URL, {"config_yaml": VALID, "selector_tags": ["env=nowhere"]})
    assert (response.status_code, response.json()) == (400, {"selector_tags": ["Unknown tag: env=nowhere."]})


def test_a_selector_matching_no_gateway_is_a_400(api_client, org):
    Tag.objects.create(organization=org, key="env", value="empty")
    response = api_client.post(URL, {"config_yaml": VALID, "selector_tags": ["env=empty"]})
    assert response.json() == {"selector_tags": ["The selector matches no gateway."]}


def test_another_orgs_gateway_ids_are_refused_as_not_existing(api_client, other_org):
    foreign = Gateway.objects.create(organization=other_org, name="globex-gw")
    response = api_client.post(URL, {"config_yaml": VALID, "gateways": [str(foreign.pk)]})
    assert response.status_code == 400
    assert "does not exist" in response.json()["gateways"][0]


def test_a_gateway_of_another_org_of_the_caller_is_refused_too(api_client, alice, other_org, org):
    set_membership(other_org, alice, Role.OWNER)
    foreign = Gateway.objects.create(organization=other_org, name="globex-gw")
    body = {"config_yaml": VALID, "organization": org.slug, "gateways": [str(foreign.pk)]}
    response = api_client.post(URL, body)
    assert response.json() == {"gateways": [f"Gateway {foreign.pk} does not exist in organization acme."]}


def test_another_orgs_slug_is_refused(api_client, other_org):
    response = api_client.post(URL, {"config_yaml": VALID, "organization": other_org.slug})
    assert response.status_code == 400
    assert "does not exist" in response.json()["organization"][0]


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
def test_a_viewer_may_validate(bob_client):
    assert bob_client.post(URL, {"config_yaml": VALID}).status_code == 200


def test_an_anonymous_caller_is_refused(client, db):
    assert client.post(URL, {"config_yaml": VALID}, content_type="application/json").status_code in (401, 403)


def test_unknown_fields_are_refused(api_client):
    response = api_client.post(URL, {"config_yaml": VALID, "strict": True})
    assert response.json() == {"strict": ["Unknown field."]}


def test_the_config_is_required(api_client):
    assert "config_yaml" in api_client.post(URL, {}).json()


def test_the_template_type_adds_its_warning(api_client):
    body = api_client.post(URL, {"config_yaml": VALID, "template_type": "metrics"}).json()
    assert [warning["code"] for warning in body["warnings"]] == ["template.type_mismatch"]


def test_a_deep_check_without_a_configured_collector_says_so(api_client, settings):
    settings.FLOWGATE_COLLECTOR_BINARY = ""
    body = api_client.post(URL, {"config_yaml": VALID, "deep": True}).json()
    assert body["deep_check"] == {"status": "unavailable", "message": "No collector binary is configured."}
    assert (body["valid"], [w["code"] for w in body["warnings"]]) == (True, ["collector.unavailable"])


def test_nothing_is_written(api_client, org):
    api_client.post(URL, {"config_yaml": VALID})
    assert (TemplateVersion.objects.count(), AuditLog.objects.count()) == (0, 0)
