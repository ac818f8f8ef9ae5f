"""Deployment pages: create with a live selector preview, live progress partial, operator actions."""

import pytest
from django.urls import reverse

from deployments_app import rollout
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import Gateway, Tag

pytestmark = pytest.mark.django_db


def form_data(fleet, **extra):
    data = {
        "template_version": fleet["version"].pk,
        "selector_tags": [fleet["tag"].pk],
        "strategy": "canary",
        "canary_count": 1,
        "batch_size": 1,
    }
    data.update(extra)
    return data


@pytest.fixture
def free_fleet(acme_fleet):
    """acme's fleet with its first deployment cancelled, so its gateways may take a new one."""
    from deployments_app import actions

    actions.cancel(acme_fleet["deployment"].pk)
    return acme_fleet


def test_it_creates_a_canary_deployment(alice_browser, free_fleet):
    response = alice_browser.post(reverse("deployments:create"), form_data(free_fleet))
    deployment = Deployment.objects.exclude(pk=free_fleet["deployment"].pk).get()
    assert response["Location"] == reverse("deployments:detail", args=[deployment.pk])
    assert deployment.strategy == "canary" and deployment.canary_count == 1
    assert deployment.targets.count() == 3


def test_a_selector_matching_nothing_is_an_error(alice_browser, free_fleet, org):
    empty = Tag.objects.create(organization=org, key="env", value="nowhere")
    response = alice_browser.post(reverse("deployments:create"), form_data(free_fleet, selector_tags=[empty.pk]))
    assert response.status_code == 200
    assert "The selector matches no gateway." in response.content.decode()


def test_contradicting_settings_are_errors_next_to_their_fields(alice_browser, free_fleet):
    data = form_data(free_fleet, strategy="rolling", canary_count=2)
    response = alice_browser.post(reverse("deployments:create"), data)
    assert "canary_count" in response.context["form"].errors
    assert 'id="errors-canary_count"' in response.content.decode()


def test_another_orgs_tag_is_not_a_choice(alice_browser, free_fleet, globex_fleet):
    data = form_data(free_fleet, selector_tags=[globex_fleet["tag"].pk])
    response = alice_browser.post(reverse("deployments:create"), data)
    assert "selector_tags" in response.context["form"].errors
    assert Deployment.objects.count() == 2  # acme's and globex's, nothing new


def test_the_deploy_button_preselects_the_version(alice_browser, acme_fleet):
    url = reverse("deployments:create") + f"?template_version={acme_fleet['version'].pk}"
    assert alice_browser.get(url).context["form"].initial["template_version"] == acme_fleet["version"].pk


def test_the_selector_preview_counts_and_lists_matched_gateways(alice_browser, acme_fleet, org):
    Gateway.objects.create(organization=org, name="untagged")
    response = alice_browser.get(reverse("deployments:preview") + f"?selector_tags={acme_fleet['tag'].pk}")
    assert response.context["count"] == 3
    assert [gateway.name for gateway in response.context["matched"]] == ["acme-0", "acme-1", "acme-2"]


def test_the_selector_preview_ignores_other_orgs_tags(alice_browser, acme_fleet, globex_fleet):
    response = alice_browser.get(reverse("deployments:preview") + f"?selector_tags={globex_fleet['tag'].pk}")
    assert response.context["count"] == 0


def test_htmx_gets_only_the_live_partial_while_running(alice_browser, acme_fleet):
    url = reverse("deployments:detail", args=[acme_fleet["deployment"].pk])
    response = alice_browser.get(url, headers={"HX-Request": "true"})
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="deployment-live"')
    assert 'hx-trigger="every 2s"' in content


def test_a_finished_deployment_stops_polling(alice_browser, acme_fleet):
    from deployments_app import actions

    actions.cancel(acme_fleet["deployment"].pk)
    content = alice_browser.get(reverse("deployments:detail", args=[acme_fleet["deployment"].pk])).content.decode()
    # Only the before-vs-after card loads once (hx-trigger="load"); nothing polls.
    assert 'data-status="cancelled"' in content and 'hx-trigger="every' not in content
    assert content.count("hx-trigger") == content.count('hx-trigger="load"') == 1


def test_the_detail_shows_batches_targets_and_timeline(alice_browser, acme_fleet):
    rollout.advance(acme_fleet["deployment"].pk)
    response = alice_browser.get(reverse("deployments:detail", args=[acme_fleet["deployment"].pk]))
    content = response.content.decode()
    assert [batch["state"] for batch in response.context["batches"]] == ["in_progress", "not_started", "not_started"]
    assert 'data-target="acme-0"' in content and "Sent</span>" in content
    assert "Batch started" in content


# Rollback: tests/pages/test_rollback_pages.py (these gateways had no config before: nothing to return to).
@pytest.mark.parametrize("action,status", [("pause", "paused"), ("cancel", "cancelled")])
def test_operator_actions_change_the_deployment(alice_browser, acme_fleet, action, status):
    deployment = acme_fleet["deployment"]
    rollout.advance(deployment.pk)
    response = alice_browser.post(reverse("deployments:action", args=[deployment.pk, action]))
    assert response["Location"] == reverse("deployments:detail", args=[deployment.pk])
    deployment.refresh_from_db()
    assert deployment.status == status


def test_a_refused_action_says_why(alice_browser, acme_fleet):
    deployment = acme_fleet["deployment"]
    response = alice_browser.post(reverse("deployments:action", args=[deployment.pk, "resume"]), follow=True)
    assert "Only a paused deployment can be resumed" in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.ROLLING_OUT


def test_an_unknown_action_is_404(alice_browser, acme_fleet):
    response = alice_browser.post(reverse("deployments:action", args=[acme_fleet["deployment"].pk, "explode"]))
    assert response.status_code == 404
