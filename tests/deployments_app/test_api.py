import pytest

from core_app.models import AuditLog, Strategy
from core_app.roles import Role
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus
from deployments_app.services import create_deployment
from gateways_app.models import Gateway
from tests.deployments_app.conftest import make_gateway, make_tag, make_version

URL = "/api/v1/deployments/"


def deploy(org, version, user, *labels, **kwargs):
    tags = [make_tag(org, label) for label in labels or ["env=prod"]]
    return create_deployment(org, template_version=version, selector_tags=tags, user=user, **kwargs)


def finish_all():
    """A gateway is in one unfinished deployment at a time: end the earlier ones before deploying again."""
    Deployment.objects.update(status=DeploymentStatus.SUCCEEDED)


def test_it_creates_a_deployment(api_client, version, fleet, django_capture_on_commit_callbacks):
    body = {"template_version": str(version.pk), "selector_tags": ["env=prod", "region=eu"], "strategy": "rolling"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, body)
    assert response.status_code == 201, response.data
    assert response.data["target_count"] == 2
    assert response.data["status"] == "validating"
    assert response.data["organization"] == "acme"
    assert response.data["selector_tags"] == ["env=prod", "region=eu"]
    # After the commit the validating task passed it and the engine's first tick ran: batch 0
    # (25% of 2 targets: eu-1) got the config.
    assert Deployment.objects.get().status == "rolling_out"
    assert Gateway.objects.get(pk=fleet["eu1"].pk).desired_config_hash == version.sha256
    assert Gateway.objects.get(pk=fleet["eu2"].pk).desired_config_hash == ""


def test_it_creates_a_deployment_for_named_gateways(api_client, version, fleet):
    body = {"template_version": str(version.pk), "selector_gateways": [str(fleet["stg"].pk)], "strategy": "all_at_once"}
    response = api_client.post(URL, body)
    assert response.status_code == 201, response.data
    assert response.data["selector_gateways"] == [fleet["stg"].pk]
    assert response.data["progress"] == {
        **{"pending": 1, "sent": 0, "applied": 0, "failed": 0},
        **{"rolled_back": 0, "returning": 0},
    }


def test_it_audits_the_creation_with_the_callers_name(api_client, version, fleet):
    api_client.post(URL, {"template_version": str(version.pk), "selector_tags": ["env=prod"]})
    entry = AuditLog.objects.get(action="deployment.created")
    assert entry.actor_name == "alice"
    assert entry.changes["target_count"] == 3


def test_it_applies_the_org_defaults_when_settings_are_left_out(api_client, version, fleet):
    response = api_client.post(URL, {"template_version": str(version.pk), "selector_tags": ["env=prod"]})
    # The org's default strategy is rolling by 25% with a 10% failure threshold.
    assert (response.data["strategy"], response.data["batch_percent"]) == ("rolling", 25)
    assert response.data["failure_threshold_percent"] == 10


def test_it_lists_deployments_with_their_template(api_client, org, alice, version, fleet):
    deploy(org, version, alice)
    response = api_client.get(URL)
    assert response.status_code == 200
    [item] = response.data["results"]
    assert (item["template_name"], item["template_version_number"], item["target_count"]) == ("base", 1, 3)


def test_the_detail_shows_progress_per_target_status(api_client, org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    DeploymentTarget.objects.filter(gateway=fleet["eu1"]).update(status=TargetStatus.APPLIED)
    DeploymentTarget.objects.filter(gateway=fleet["eu2"]).update(status=TargetStatus.FAILED)
    response = api_client.get(f"{URL}{deployment.pk}/")
    assert response.status_code == 200
    assert response.data["progress"] == {
        **{"pending": 1, "sent": 0, "applied": 1, "failed": 1},
        **{"rolled_back": 0, "returning": 0},
    }
    assert response.data["target_count"] == 3


def test_the_list_does_not_query_per_deployment(api_client, org, alice, version, fleet, django_assert_max_num_queries):
    for _ in range(5):
        finish_all()
        deploy(org, version, alice, "env=prod", "region=eu", selector_gateways=[fleet["us1"]])
    # Count, page, selector tags, selector gateways: whatever the number of deployments.
    with django_assert_max_num_queries(4):
        response = api_client.get(URL)
    assert len(response.data["results"]) == 5


def test_the_target_list_does_not_query_per_target(
    api_client, org, alice, version, fleet, django_assert_max_num_queries
):
    deployment = deploy(org, version, alice, "region=eu")
    # The deployment, the count, the page with its gateways.
    with django_assert_max_num_queries(3):
        response = api_client.get(f"{URL}{deployment.pk}/targets/")
    assert [row["gateway_name"] for row in response.data["results"]] == ["eu-1", "eu-2", "stg-1"]


def test_it_filters_deployments(api_client, org, alice, version, fleet):
    other = make_version(org, name="edge")
    deploy(org, version, alice)
    finish_all()
    wanted = deploy(org, other, alice, strategy=Strategy.ALL_AT_ONCE)
    for query in (f"template={other.template_id}", f"template_version={other.pk}", "strategy=all_at_once"):
        results = api_client.get(f"{URL}?{query}").data["results"]
        assert [item["id"] for item in results] == [str(wanted.pk)], query


def test_it_filters_deployments_by_status_and_creation_time(api_client, org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    created = deployment.created_at.isoformat().replace("+00:00", "Z")
    assert api_client.get(URL, {"status": "validating", "created_after": created}).data["count"] == 1
    assert api_client.get(URL, {"status": "succeeded"}).data["count"] == 0
    assert api_client.get(URL, {"created_before": created}).data["count"] == 0


def test_it_filters_deployments_by_organization(org, other_org, alice, version, other_version, fleet):
    from core_app.services import set_membership
    from tests.conftest import client_for

    set_membership(other_org, alice, Role.OWNER)
    make_gateway(other_org, "globex-1", "env=prod")
    deploy(org, version, alice)
    deploy(other_org, other_version, alice)
    client = client_for(alice)
    assert client.get(URL).data["count"] == 2
    [item] = client.get(URL, {"organization": "globex"}).data["results"]
    assert item["organization"] == "globex"


def test_it_lists_the_targets_of_a_deployment(api_client, org, alice, version, fleet):
    deployment = deploy(org, version, alice, strategy=Strategy.ROLLING, batch_size=2)
    response = api_client.get(f"{URL}{deployment.pk}/targets/")
    assert response.status_code == 200
    rows = [(row["gateway_name"], row["status"], row["batch"]) for row in response.data["results"]]
    assert rows == [("eu-1", "pending", 0), ("eu-2", "pending", 0), ("us-1", "pending", 1)]


def test_it_filters_targets(api_client, org, alice, version, fleet):
    deployment = deploy(org, version, alice, strategy=Strategy.ROLLING, batch_size=2)
    DeploymentTarget.objects.filter(gateway=fleet["us1"]).update(status=TargetStatus.FAILED, error="boom")
    url = f"{URL}{deployment.pk}/targets/"
    assert [row["gateway_name"] for row in api_client.get(url, {"batch": 0}).data["results"]] == ["eu-1", "eu-2"]
    [failed] = api_client.get(url, {"status": "failed"}).data["results"]
    assert (failed["gateway_name"], failed["error"]) == ("us-1", "boom")
    [one] = api_client.get(url, {"gateway": str(fleet["eu2"].pk)}).data["results"]
    assert one["gateway_name"] == "eu-2"


def test_it_shows_one_target(api_client, org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    target = deployment.targets.get(gateway=fleet["us1"])
    response = api_client.get(f"{URL}{deployment.pk}/targets/{target.pk}/")
    assert response.status_code == 200
    assert (response.data["gateway"], response.data["gateway_name"]) == (fleet["us1"].pk, "us-1")


def test_a_target_of_another_deployment_is_404_under_this_one(api_client, org, alice, version, fleet):
    first = deploy(org, version, alice)
    second = deploy(org, version, alice, "env=staging")
    target = second.targets.get()
    assert api_client.get(f"{URL}{first.pk}/targets/{target.pk}/").status_code == 404


@pytest.fixture
def globex_deployment(other_org, charlie, other_version):
    make_gateway(other_org, "globex-1", "env=prod")
    return deploy(other_org, other_version, charlie)


def test_other_orgs_deployments_are_404_on_every_route(api_client, globex_deployment):
    target = globex_deployment.targets.get()
    base = f"{URL}{globex_deployment.pk}/"
    for url in (base, f"{base}targets/", f"{base}targets/{target.pk}/"):
        assert api_client.get(url).status_code == 404, url
    assert api_client.get(URL).data["count"] == 0


def test_a_malformed_deployment_id_is_404(api_client):
    assert api_client.get(f"{URL}not-a-uuid/targets/").status_code == 404
    assert api_client.get(f"{URL}not-a-uuid/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_deployments_cannot_be_changed_or_deleted(api_client, org, alice, version, fleet, method):
    deployment = deploy(org, version, alice)
    response = getattr(api_client, method)(f"{URL}{deployment.pk}/", {"status": "cancelled"})
    assert response.status_code == 405
    assert Deployment.objects.get().status == "validating"


class TestAsViewer:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_a_viewer_can_read_deployments(self, bob_client, org, alice, version, fleet):
        deployment = deploy(org, version, alice)
        assert bob_client.get(f"{URL}{deployment.pk}/").status_code == 200

    def test_a_viewer_cannot_create_a_deployment(self, bob_client, version, fleet):
        response = bob_client.post(URL, {"template_version": str(version.pk), "selector_tags": ["env=prod"]})
        assert response.status_code == 403
        assert Deployment.objects.count() == 0


def test_an_editor_can_create_a_deployment(bob_client, version, fleet):
    response = bob_client.post(URL, {"template_version": str(version.pk), "selector_tags": ["env=prod"]})
    assert response.status_code == 201
