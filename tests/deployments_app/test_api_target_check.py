"""POST /api/v1/deployments/ checks the version against the targets' components (issue 13, point 1)."""

import pytest

from core_app.models import AuditLog
from core_app.roles import Role
from deployments_app.models import Deployment
from templates_app.models import TemplateVersion, ValidationState
from tests.deployments_app.components import CONFIG, FULL, NO_OTLP_OUT
from tests.deployments_app.conftest import make_gateway, make_version

URL = "/api/v1/deployments/"


@pytest.fixture
def version(org):
    return make_version(org, name="edge", config_yaml=CONFIG)


@pytest.fixture
def fleet(org):
    return {
        "ok": make_gateway(org, "edge-ok", "env=prod", available_components=FULL),
        "small": make_gateway(org, "edge-small", "env=prod", available_components=NO_OTLP_OUT),
    }


def body(version, **fields):
    return {"template_version": str(version.pk), "selector_tags": ["env=prod"], **fields}


def test_it_refuses_with_each_gateway_and_its_missing_components(api_client, version, fleet):
    response = api_client.post(URL, body(version), format="json")
    assert response.status_code == 400, response.data
    assert response.data["targets"] == [
        "edge v1 cannot run on 1 of the 2 target gateways: it lacks components the config uses."
    ]
    assert response.json()["missing_components"] == [
        {
            "gateway": str(fleet["small"].pk),
            "gateway_name": "edge-small",
            "missing": ["exporter debug", "exporter otlp"],
        }
    ]
    assert not Deployment.objects.exists()


def test_validation_endpoint_and_deployment_agree(api_client, version, fleet):
    """POST /validation with the same selector already said why: both name the same gateway."""
    checked = api_client.post(
        "/api/v1/validation", {"config_yaml": CONFIG, "selector_tags": ["env=prod"]}, format="json"
    ).json()
    assert not checked["valid"]
    assert all("edge-small" in error["message"] for error in checked["errors"])
    refused = api_client.post(URL, body(version), format="json").json()
    assert [row["gateway_name"] for row in refused["missing_components"]] == ["edge-small"]


def test_an_owner_may_force_it_and_the_answer_says_so(api_client, alice, version, fleet):
    response = api_client.post(URL, body(version, force=True), format="json")
    assert response.status_code == 201, response.data
    assert (response.data["status"], response.data["forced"]) == ("validating", True)
    assert response.data["validation"]["missing"][0]["gateway_name"] == "edge-small"
    assert AuditLog.objects.get(action="deployment.forced").actor_user == alice


@pytest.mark.parametrize("bob_role", [Role.EDITOR])
def test_an_editor_who_forces_gets_403(bob_client, version, fleet):
    response = bob_client.post(URL, body(version, force=True), format="json")
    assert response.status_code == 403
    assert "Only an admin or owner" in response.data["detail"]
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("bob_role", [Role.ADMIN])
def test_an_admin_may_force(bob_client, version, fleet):
    assert bob_client.post(URL, body(version, force=True), format="json").status_code == 201


def test_the_detail_shows_a_refusal_per_gateway(api_client, alice, org, version, fleet):
    response = api_client.post(URL, body(version, selector_tags=[], selector_gateways=[str(fleet["ok"].pk)]))
    assert response.status_code == 201, response.data
    fleet["ok"].available_components = NO_OTLP_OUT
    fleet["ok"].save(update_fields=["available_components"])
    from deployments_app import target_check

    target_check.validate(response.data["id"])
    data = api_client.get(f"{URL}{response.data['id']}/").json()
    assert data["status"] == "refused"
    assert data["validation"]["missing"] == [
        {"gateway": str(fleet["ok"].pk), "gateway_name": "edge-ok", "missing": ["exporter debug", "exporter otlp"]}
    ]
    assert [event["kind"] for event in data["events"]] == ["refused"]
    assert api_client.get(URL, {"status": "refused"}).json()["count"] == 1


def invalid_version(org):
    template = make_version(org, name="broken").template
    return TemplateVersion.objects.create(
        template=template,
        number=2,
        config_yaml=CONFIG,
        validation_state=ValidationState.INVALID,
        validation_errors=[{"code": "x", "message": "Broken on purpose.", "path": "", "line": 3, "column": 1}],
    )


def test_an_invalid_version_is_refused_whatever_force_says(api_client, org, fleet):
    response = api_client.post(URL, body(invalid_version(org), force=True), format="json")
    assert response.status_code == 400
    assert "broken v2 is invalid: Broken on purpose." in response.data["template_version"][0]
    assert not Deployment.objects.exists()
