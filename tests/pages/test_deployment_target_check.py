"""The deploy form and the deployment page tell whether the targets can run the version (issue 13, points 1 and 8)."""

import pytest
from django.urls import reverse

from deployments_app.models import Deployment
from deployments_app.services import create_deployment
from gateways_app.models import Gateway
from templates_app.models import TemplateVersion, ValidationState
from tests.deployments_app.components import CONFIG, FULL, NO_OTLP_OUT
from tests.deployments_app.conftest import make_gateway, make_version

pytestmark = pytest.mark.django_db
CREATE = reverse("deployments:create")
PREVIEW = reverse("deployments:preview")


@pytest.fixture
def version(org):
    return make_version(org, name="edge", config_yaml=CONFIG)


@pytest.fixture
def gateways(org):
    return {
        "ok": make_gateway(org, "edge-ok", available_components=FULL),
        "small": make_gateway(org, "edge-small", available_components=NO_OTLP_OUT),
    }


def form_data(version, *gateways, **extra):
    return {"template_version": version.pk, "selector_gateways": [gateway.pk for gateway in gateways], **extra}


def test_the_form_refuses_naming_the_gateway_and_its_missing_components(alice_browser, version, gateways):
    response = alice_browser.post(CREATE, form_data(version, *gateways.values()))
    assert response.status_code == 200
    page = response.content.decode()
    assert "edge v1 cannot run on 1 of the 2 target gateways" in page
    assert "edge-small lacks exporter debug, exporter otlp." in page
    assert not Deployment.objects.exists()


def test_an_owner_may_force_it_from_the_form(alice_browser, version, gateways):
    page = alice_browser.get(CREATE).content.decode()
    assert 'name="force"' in page
    response = alice_browser.post(CREATE, form_data(version, *gateways.values(), force="on"))
    deployment = Deployment.objects.get()
    assert response["Location"] == reverse("deployments:detail", args=[deployment.pk])
    assert (deployment.status, deployment.forced) == ("validating", True)


def test_an_editor_is_not_offered_force_and_is_refused_it(bob_browser, version, gateways):
    assert 'name="force"' not in bob_browser.get(CREATE).content.decode()
    response = bob_browser.post(CREATE, form_data(version, *gateways.values(), force="on"))
    assert response.status_code == 200
    assert "Only an admin or owner of Acme may force" in response.content.decode()
    assert not Deployment.objects.exists()


def test_invalid_versions_are_not_offered(alice_browser, version):
    broken = TemplateVersion.objects.create(
        template=version.template, number=2, config_yaml=CONFIG, validation_state=ValidationState.INVALID
    )
    page = alice_browser.get(CREATE).content.decode()
    assert f'value="{version.pk}"' in page
    assert f'value="{broken.pk}"' not in page


def test_the_live_check_lists_what_each_gateway_lacks(alice_browser, version, gateways):
    query = {"template_version": version.pk, "selector_gateways": [gateways["ok"].pk, gateways["small"].pk]}
    fragment = alice_browser.get(PREVIEW, query, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="target-check" data-ok="no"' in fragment
    assert "edge v1 cannot run on 1 of the 2 target gateways" in fragment
    assert 'data-gateway="edge-small"' in fragment and "lacks exporter debug, exporter otlp" in fragment
    assert 'data-gateway="edge-ok"' not in fragment


def test_the_live_check_says_when_all_is_well_and_who_never_reported(alice_browser, org, version, gateways):
    new = make_gateway(org, "edge-new")
    query = {"template_version": version.pk, "selector_gateways": [gateways["ok"].pk, new.pk]}
    fragment = alice_browser.get(PREVIEW, query).content.decode()
    assert 'data-ok="yes"' in fragment
    assert "Every matched gateway has the components edge v1 uses." in fragment
    assert "1 gateway never reported its components (edge-new)" in fragment


def test_the_live_check_escapes_gateway_names(alice_browser, org, version):
    evil = make_gateway(org, "<b>evil</b>", available_components=NO_OTLP_OUT)
    fragment = alice_browser.get(PREVIEW, {"template_version": version.pk, "selector_gateways": [evil.pk]})
    page = fragment.content.decode()
    assert "&lt;b&gt;evil&lt;/b&gt;</a> lacks exporter debug" in page
    assert "<b>evil</b>" not in page


def test_the_form_asks_for_the_check_when_the_version_changes(alice_browser, version, gateways):
    page = alice_browser.get(CREATE).content.decode()
    assert 'hx-include="#id_template_version, #id_selector_tags, #id_selector_gateways"' in page


def test_with_no_gateway_the_form_says_so_and_links_to_enrolling_one(alice_browser, version):
    page = alice_browser.get(CREATE).content.decode()
    assert 'id="no-gateways"' in page
    assert "There are no gateways or tags in Acme yet" in page
    assert f'href="{reverse("gateways:tokens")}"' in page


def test_with_gateways_the_hint_is_gone(alice_browser, version, gateways):
    page = alice_browser.get(CREATE).content.decode()
    assert 'id="no-gateways"' not in page
    assert 'id="no-tags"' in page


def test_the_deployment_page_shows_validating_live_then_the_refusal(alice_browser, org, alice, version, gateways):
    deployment = create_deployment(org, template_version=version, selector_gateways=[gateways["ok"]], user=alice)
    url = reverse("deployments:detail", args=[deployment.pk])
    page = alice_browser.get(url).content.decode()
    assert 'id="validating"' in page and 'hx-trigger="every 2s"' in page
    Gateway.objects.filter(pk=gateways["ok"].pk).update(available_components=NO_OTLP_OUT)
    from deployments_app import target_check

    target_check.validate(deployment.pk)
    live = alice_browser.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="deployment-status">Refused<' in live
    assert 'data-gateway="edge-ok"' in live and "exporter debug, exporter otlp" in live
    assert 'hx-trigger="every 2s"' not in live  # finished: no more polling
