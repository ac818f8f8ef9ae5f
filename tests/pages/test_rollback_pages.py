"""Rollbacks on the pages (issue 13): what the deployment page and the dashboard say after one.

- the message and the timeline state exact counts; a rollback with nothing to return to is refused;
- a batch of a rolled-back deployment is no longer "In progress"; the timeline names batches as
  the batches card does ("Batch 1" first, not "Batch 0");
- the dashboard still shows failed targets, and counts outcomes by how the rollout ended.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from core_app.models import Strategy
from dashboard_app import services
from deployments_app import actions, rollout
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import Gateway, RemoteConfigStatus
from templates_app.models import sha256_of
from tests.deployments_app.engine import FAILED, OLD, at, deploy, make_fleet, new_version, report, report_sent, tick

pytestmark = pytest.mark.django_db


class Old:
    sha256 = sha256_of(OLD)


def detail(client, deployment, **kwargs):
    return client.get(reverse("deployments:detail", args=[deployment.pk]), **kwargs)


def give_previous_config(fleet):
    """The fleet ran version 1 before the deployment of version 2 (which acme_fleet creates)."""
    v1 = fleet["template"].versions.get(number=1)
    Gateway.objects.filter(pk__in=[gateway.pk for gateway in fleet["gateways"]]).update(
        desired_config=v1.config_yaml,
        desired_config_hash=v1.sha256,
        remote_config_hash=v1.sha256,
        remote_config_status=RemoteConfigStatus.APPLIED,
    )


def test_a_rollback_says_what_it_did_and_its_batch_is_no_longer_in_progress(alice_browser, acme_fleet):
    give_previous_config(acme_fleet)
    deployment = acme_fleet["deployment"]
    rollout.advance(deployment.pk)  # the first batch (acme-0) is sent
    response = alice_browser.post(reverse("deployments:action", args=[deployment.pk, "rollback"]), follow=True)
    content = response.content.decode()
    assert "Rolled back by alice: 1 target(s) are returning to their previous config." in content
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLING_BACK
    # The batches card and the timeline name the first batch the same way.
    assert [(batch["label"], batch["state"]) for batch in response.context["batches"]] == [
        ("Batch 1", "stopped"),
        ("Batch 2", "not_started"),
        ("Batch 3", "not_started"),
    ]
    assert '<div class="muted small" data-batch-state="stopped">Stopped before its gate</div>' in content
    assert "In progress" not in content
    assert "Batch 1 started: sent to 1 target(s)." in content and "Batch 0" not in content
    assert 'data-rollback="returning"' in content


def test_a_rollback_with_nothing_to_return_to_is_refused_on_the_page(alice_browser, acme_fleet):
    """acme_fleet's gateways had no config before: rolling back would leave them running version 2."""
    deployment = acme_fleet["deployment"]
    rollout.advance(deployment.pk)
    response = alice_browser.post(reverse("deployments:action", args=[deployment.pk, "rollback"]), follow=True)
    content = response.content.decode()
    assert "Nothing to roll back to: 1 target(s) had no config before this deployment and keep version 2" in content
    assert "are returning" not in content
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    assert Gateway.objects.get(name="acme-0").desired_config_hash == acme_fleet["version"].sha256


def test_the_dashboard_keeps_failed_targets_of_a_rolled_back_deployment(alice_browser, org, alice):
    """The issue's case: after rollouts with failed targets were rolled back, "Recent failures" said
    "No failed target" and the outcome chart "Failed 0"."""
    fleet = make_fleet(org, 3)
    new = new_version(org)
    deployment = deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE, failure_threshold_count=0)
    deployment = tick(deployment, 0)
    report(["gw-01"], new, FAILED, "exporter otlphttp: HTTP 404")
    report(["gw-02", "gw-03"], new)
    assert tick(deployment, 5).status == DeploymentStatus.ROLLING_BACK
    report(["gw-01", "gw-02", "gw-03"], Old)
    assert tick(deployment, 6).status == DeploymentStatus.ROLLED_BACK
    Deployment.objects.filter(pk=deployment.pk).update(finished_at=timezone.now())  # within the chart's 30 days

    content = alice_browser.get(reverse("dashboard:index")).content.decode()
    assert "exporter otlphttp: HTTP 404" in content and "No failed target" not in content
    outcomes = {key: (count, after, failed) for key, _, count, after, failed in services.deployment_outcomes(org)}
    assert outcomes["failed"] == (1, 1, 1)
    assert outcomes["rolled_back"] == (0, 0, 0)
    assert "rolled back afterwards: 1 failed. 1 failed target." in content


def test_a_manual_rollback_does_not_turn_a_success_into_rolled_back_in_the_chart(alice_browser, org, alice):
    new = new_version(org)
    deployment = tick(deploy(org, alice, new, make_fleet(org, 2), strategy=Strategy.ALL_AT_ONCE), 0)
    report_sent(deployment, new)
    assert tick(deployment, 5).status == DeploymentStatus.SUCCEEDED
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    report(["gw-01", "gw-02"], Old)
    assert tick(deployment, 61).status == DeploymentStatus.ROLLED_BACK
    Deployment.objects.filter(pk=deployment.pk).update(finished_at=timezone.now())

    outcomes = {key: (count, after) for key, _, count, after, _ in services.deployment_outcomes(org)}
    assert (outcomes["succeeded"], outcomes["rolled_back"]) == ((1, 1), (0, 0))
    content = alice_browser.get(reverse("dashboard:index")).content.decode()
    assert "Counted by how each rollout ended; rolled back afterwards: 1 succeeded." in content
    # The deployment's own pages say it too, beside the status.
    assert '<span class="muted small" id="rolled-back-after">after the rollout succeeded</span>' in (
        detail(alice_browser, deployment).content.decode()
    )
    listed = alice_browser.get(reverse("deployments:list")).content.decode()
    assert 'Rolled back</span> <span class="muted small">after it succeeded</span>' in listed
