"""The dashboard: fleet counts, drift, rollouts in progress, failures, and the history charts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard_app import charts, services, tasks
from dashboard_app.models import FleetSnapshot
from deployments_app.models import DeploymentTarget, TargetStatus
from gateways_app.models import Gateway, GatewayStatus

pytestmark = pytest.mark.django_db


def test_it_counts_gateways_by_status_health_and_drift(acme_fleet, org):
    Gateway.objects.filter(name="acme-1").update(status=GatewayStatus.DEGRADED, health={"healthy": False})
    Gateway.objects.filter(name="acme-2").update(desired_config_hash="a" * 64, remote_config_hash="")
    counts = services.fleet_counts(org)
    assert (counts["total"], counts["online"], counts["degraded"], counts["offline"]) == (3, 2, 1, 0)
    assert (counts["unhealthy"], counts["drifted"]) == (1, 1)


def test_the_page_shows_running_deployments_and_recent_failures(alice_browser, acme_fleet):
    target = DeploymentTarget.objects.filter(deployment=acme_fleet["deployment"]).first()
    DeploymentTarget.objects.filter(pk=target.pk).update(status=TargetStatus.FAILED, error="exporter refused: 503")
    response = alice_browser.get(reverse("dashboard:index"))
    content = response.content.decode()
    assert [d.pk for d in response.context["active"]] == [acme_fleet["deployment"].pk]
    assert "exporter refused: 503" in content
    assert 'class="progress"' in content


def test_snapshots_are_recorded_for_every_org_and_old_ones_dropped(acme_fleet, other_org, settings):
    now = timezone.now()
    FleetSnapshot.objects.create(organization=other_org, taken_at=now - timedelta(days=40))
    assert tasks.record_fleet_snapshots.apply().get() == 2
    acme = FleetSnapshot.objects.get(organization=acme_fleet["org"])
    assert (acme.online, acme.offline, acme.connected) == (3, 0, 3)
    assert FleetSnapshot.objects.filter(organization=other_org).get().taken_at > now - timedelta(minutes=1)


def test_connected_history_ends_with_now(acme_fleet, org):
    now = timezone.now()
    FleetSnapshot.objects.create(organization=org, taken_at=now - timedelta(hours=2), online=1, offline=2)
    FleetSnapshot.objects.create(organization=org, taken_at=now - timedelta(hours=30), online=3)  # too old
    points = services.connected_history(org, now=now)
    assert [(value, total) for _, value, total in points] == [(1, 3), (3, 3)]


def test_the_line_chart_scales_to_the_fleet():
    now = timezone.now()
    chart = charts.line_chart(
        [(now - timedelta(hours=1), 0, 4), (now, 4, 4)],
        width=100,
        height=60,
        pad_left=0,
        pad_right=0,
        pad_top=0,
        pad_bottom=0,
    )
    assert chart.line == "M 0.0 60.0 L 100.0 0.0"
    assert [label for _, label in chart.y_ticks] == ["0", "2", "4"]


def test_outcome_bars_are_empty_without_finished_deployments(org):
    bars, empty = charts.bar_chart(services.deployment_outcomes(org))
    assert empty and [bar.label for bar in bars] == ["Succeeded", "Failed", "Rolled back", "Cancelled"]
