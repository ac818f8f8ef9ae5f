"""Bad deployment requests: a 400 naming the field, and nothing written."""

import pytest

from core_app.models import AuditLog
from core_app.roles import Role
from core_app.services import set_membership
from deployments_app.models import Deployment, DeploymentTarget
from gateways_app.models import Gateway
from tests.conftest import client_for
from tests.deployments_app.conftest import make_gateway, make_tag

URL = "/api/v1/deployments/"


@pytest.fixture
def post(api_client, version, fleet):
    def post(**fields):
        body = {"template_version": str(version.pk), "selector_tags": ["env=prod"], **fields}
        return api_client.post(URL, body)

    return post


def assert_nothing_written():
    assert Deployment.objects.count() == 0
    assert DeploymentTarget.objects.count() == 0
    assert not AuditLog.objects.filter(action="deployment.created").exists()
    assert not Gateway.objects.exclude(desired_config_hash="").exists()


def test_it_rejects_unknown_fields(post):
    response = post(status="succeeded", colour="blue")
    assert response.status_code == 400
    assert set(response.data) == {"status", "colour"}
    assert_nothing_written()


def test_it_rejects_both_batch_size_and_percent(post):
    response = post(strategy="rolling", batch_size=2, batch_percent=50)
    assert response.status_code == 400
    assert response.data == {"batch_percent": ["Give a batch size or a batch percent, not both."]}
    assert_nothing_written()


def test_it_rejects_both_canary_count_and_percent(post):
    response = post(strategy="canary", canary_count=1, canary_percent=10)
    assert response.status_code == 400
    assert response.data == {"canary_percent": ["Give a canary count or a canary percent, not both."]}


@pytest.mark.parametrize("field", ["batch_percent", "canary_percent", "failure_threshold_percent"])
@pytest.mark.parametrize("value", [0, 101])
def test_it_rejects_percents_outside_1_to_100(post, field, value):
    response = post(strategy="canary", **{field: value})
    assert response.status_code == 400
    assert list(response.data) == [field]
    assert_nothing_written()


def test_it_refuses_batch_settings_for_all_at_once(post):
    response = post(strategy="all_at_once", batch_size=2)
    assert response.status_code == 400
    assert "all_at_once" in response.data["batch_size"][0]
    assert_nothing_written()


def test_it_refuses_canary_settings_for_rolling(post):
    response = post(strategy="rolling", canary_percent=10)
    assert response.status_code == 400
    assert list(response.data) == ["canary_percent"]


def test_it_names_an_unknown_tag(post):
    response = post(selector_tags=["env=prod", "team=blue"])
    assert response.status_code == 400
    assert response.data == {"selector_tags": ["Unknown tag: team=blue."]}
    assert_nothing_written()


def test_it_explains_a_malformed_tag(post):
    response = post(selector_tags=["prod"])
    assert response.status_code == 400
    assert "key=value" in response.data["selector_tags"][0]


def test_it_refuses_a_selector_matching_no_gateway(post, org):
    make_tag(org, "env=dev")
    response = post(selector_tags=["env=dev"])
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["The selector matches no gateway."]}
    assert_nothing_written()


def test_it_refuses_an_empty_selector(post):
    response = post(selector_tags=[])
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["The selector matches no gateway."]}


def test_another_orgs_version_does_not_exist(post, other_version):
    response = post(template_version=str(other_version.pk))
    assert response.status_code == 400
    assert "does not exist" in response.data["template_version"][0]
    assert_nothing_written()


def test_another_orgs_gateway_does_not_exist(post, other_org):
    outsider = make_gateway(other_org, "globex-1")
    response = post(selector_gateways=[str(outsider.pk)])
    assert response.status_code == 400
    assert "does not exist" in response.data["selector_gateways"][0]
    assert_nothing_written()


def test_another_orgs_tag_is_unknown(post, other_org):
    make_gateway(other_org, "globex-1", "team=red")
    response = post(selector_tags=["team=red"])
    assert response.status_code == 400
    assert response.data == {"selector_tags": ["Unknown tag: team=red."]}


def test_a_member_of_two_orgs_cannot_mix_them(org, other_org, alice, version, other_version, fleet):
    # Alice sees both orgs' versions: the service still keeps a deployment inside one org.
    set_membership(other_org, alice, Role.OWNER)
    body = {"organization": "acme", "template_version": str(other_version.pk), "selector_tags": ["env=prod"]}
    response = client_for(alice).post(URL, body)
    assert response.status_code == 400
    assert response.data["template_version"] == ["This template version does not exist in organization acme."]
    assert_nothing_written()


def test_a_member_of_two_orgs_must_name_the_organization(org, other_org, alice, version, fleet):
    set_membership(other_org, alice, Role.OWNER)
    response = client_for(alice).post(URL, {"template_version": str(version.pk), "selector_tags": ["env=prod"]})
    assert response.status_code == 400
    assert "organization" in response.data


def test_it_refuses_an_organization_where_the_caller_cannot_write(post, other_org):
    response = post(organization="globex")
    assert response.status_code == 400
    assert "organization" in response.data
    assert_nothing_written()


def test_it_rejects_an_unknown_strategy(post):
    response = post(strategy="yolo")
    assert response.status_code == 400
    assert list(response.data) == ["strategy"]
