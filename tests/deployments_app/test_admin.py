import pytest
from django.test import Client

from core_app.models import AuditLog
from core_app.roles import Role
from deployments_app.forms import DeploymentForm
from deployments_app.models import Deployment
from deployments_app.services import create_deployment
from gateways_app.models import Gateway
from tests.deployments_app.conftest import make_gateway, make_tag

ADD_URL = "/admin/deployments_app/deployment/add/"
LIST_URL = "/admin/deployments_app/deployment/"


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


def form_data(org, version, tags=(), gateways=(), **settings):
    data = {
        "organization": str(org.pk),
        "template_version": str(version.pk),
        "selector_tags": [str(tag.pk) for tag in tags],
        "selector_gateways": [str(gateway.pk) for gateway in gateways],
    }
    data.update({name: str(value) for name, value in settings.items()})
    return data


def deploy(org, version, user, label="env=prod"):
    return create_deployment(org, template_version=version, selector_tags=[make_tag(org, label)], user=user)


def test_it_creates_a_deployment_through_the_service(alice, org, version, fleet, django_capture_on_commit_callbacks):
    data = form_data(org, version, tags=[make_tag(org, "region=eu")], strategy="canary", canary_count=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(alice).post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    deployment = Deployment.objects.get()
    assert (deployment.strategy, deployment.canary_count, deployment.batch_percent) == ("canary", 1, 25)
    assert deployment.targets.count() == 3
    assert AuditLog.objects.filter(action="deployment.created", actor_user=alice).exists()
    # The engine's first tick (after the commit) sends the canary, eu-1, and nothing else yet.
    assert Gateway.objects.get(pk=fleet["eu1"].pk).desired_config_hash == version.sha256
    assert Gateway.objects.get(pk=fleet["stg"].pk).desired_config_hash == ""


def test_it_shows_an_empty_selector_as_a_form_error(alice, org, version, fleet):
    response = admin_client(alice).post(ADD_URL, form_data(org, version))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["The selector matches no gateway."]
    assert Deployment.objects.count() == 0


def test_it_shows_conflicting_settings_on_the_field(alice, org, version, fleet):
    data = form_data(org, version, tags=[make_tag(org, "env=prod")], strategy="rolling", batch_size=2, batch_percent=5)
    response = admin_client(alice).post(ADD_URL, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"batch_percent": ["Give a batch size or a batch percent, not both."]}
    assert Deployment.objects.count() == 0


def test_the_form_offers_only_the_users_orgs_tags_and_gateways(alice, org, other_org, version, fleet):
    make_gateway(other_org, "globex-1", "team=red")
    form = DeploymentForm(user=alice)
    assert "globex-1" not in [gw.name for gw in form.fields["selector_gateways"].queryset]
    assert "team=red" not in [str(tag) for tag in form.fields["selector_tags"].queryset]
    assert list(form.fields["organization"].queryset) == [org]


def test_the_admin_form_refuses_another_orgs_gateway(alice, org, other_org, version, fleet):
    outsider = make_gateway(other_org, "globex-1")
    response = admin_client(alice).post(ADD_URL, form_data(org, version, gateways=[outsider]))
    assert response.status_code == 200
    assert "selector_gateways" in response.context["adminform"].form.errors
    assert Deployment.objects.count() == 0


def test_staff_see_only_their_orgs_deployments(bob, alice, charlie, org, other_org, version, other_version, fleet):
    mine = deploy(org, version, alice)
    make_gateway(other_org, "globex-1", "env=prod")
    theirs = deploy(other_org, other_version, charlie)
    client = admin_client(bob)
    response = client.get(LIST_URL)
    assert list(response.context["cl"].result_list) == [mine]
    assert response.context["cl"].result_list[0].target_count == 3
    # Another org's deployment does not exist for bob: the admin redirects away from it.
    assert client.get(f"{LIST_URL}{theirs.pk}/change/").status_code == 302
    assert client.get(f"{LIST_URL}{mine.pk}/change/").status_code == 200


def test_the_organization_filter_lists_only_the_users_orgs(
    bob, alice, charlie, org, other_org, version, other_version, fleet
):
    deploy(org, version, alice)
    make_gateway(other_org, "globex-1", "env=prod")
    deploy(other_org, other_version, charlie)
    response = admin_client(bob).get(LIST_URL)
    assert b"Globex" not in response.content


def test_deployments_are_read_only_once_created(alice, org, version, fleet):
    deployment = deploy(org, version, alice)
    client = admin_client(alice)
    response = client.get(f"{LIST_URL}{deployment.pk}/change/")
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert client.post(f"{LIST_URL}{deployment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Deployment.objects.count() == 1


def test_targets_are_listed_read_only_and_scoped(bob, alice, charlie, org, other_org, version, other_version, fleet):
    deploy(org, version, alice, "region=us")
    make_gateway(other_org, "globex-1", "env=prod")
    deploy(other_org, other_version, charlie)
    client = admin_client(bob)
    response = client.get("/admin/deployments_app/deploymenttarget/")
    assert [target.gateway.name for target in response.context["cl"].result_list] == ["us-1"]
    assert client.get("/admin/deployments_app/deploymenttarget/add/").status_code == 403


class TestAsViewer:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_a_viewer_cannot_add_deployments(self, bob, org, version, fleet):
        data = form_data(org, version, tags=[make_tag(org, "env=prod")])
        assert admin_client(bob).post(ADD_URL, data).status_code == 403
        assert Deployment.objects.count() == 0


def test_the_add_page_offers_the_rollout_settings(alice, version, fleet):
    response = admin_client(alice).get(ADD_URL)
    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert {"selector_tags", "selector_gateways", "strategy", "batch_percent", "auto_rollback"} <= set(fields)


def test_the_detail_page_shows_progress_and_targets(alice, org, version, fleet):
    deployment = deploy(org, version, alice)
    response = admin_client(alice).get(f"{LIST_URL}{deployment.pk}/change/")
    # A rollback does not change target statuses: its counts follow ("; rollback: ...") once there is one.
    assert b"3 targets: 3 pending, 0 sent, 0 applied, 0 failed<" in response.content
    assert b"eu-2" in response.content


def test_the_target_organization_filter_lists_only_the_users_orgs(
    bob, alice, charlie, org, other_org, version, other_version, fleet
):
    deploy(org, version, alice)
    make_gateway(other_org, "globex-1", "env=prod")
    deploy(other_org, other_version, charlie)
    response = admin_client(bob).get("/admin/deployments_app/deploymenttarget/")
    assert b"Globex" not in response.content
