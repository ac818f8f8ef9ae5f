"""Online/offline over time: gateways silent for three heartbeat intervals go offline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core_app.models import OrgSettings
from flowgate_site.celery import app as celery_app
from gateways_app.models import Gateway, GatewayStatus
from opamp_app import services, tasks

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def presence_every_15_seconds(settings):
    settings.FLOWGATE_OPAMP_PRESENCE_SECONDS = 15


def gateway_seen(org, name, seconds_ago, status=GatewayStatus.ONLINE):
    return Gateway.objects.create(
        organization=org, name=name, status=status, last_seen=NOW - timedelta(seconds=seconds_ago)
    )


def status_of(gateway):
    return Gateway.objects.get(pk=gateway.pk).status


def test_a_gateway_silent_for_three_heartbeats_plus_the_presence_period_goes_offline(org):
    # Heartbeat 30 s: 3 x 30 s + 15 s between presence writes = 105 s.
    recent = gateway_seen(org, "recent", 104)
    silent = gateway_seen(org, "silent", 106, status=GatewayStatus.DEGRADED)
    assert services.mark_stale_gateways_offline(now=NOW) == 1
    assert (status_of(recent), status_of(silent)) == ("online", "offline")


def test_each_organization_uses_its_own_heartbeat_interval(org, other_org):
    OrgSettings.objects.filter(organization=other_org).update(heartbeat_interval_seconds=10)
    acme = gateway_seen(org, "acme", 60)
    globex = gateway_seen(other_org, "globex", 60)  # 3 x 10 s + 15 s = 45 s < 60 s
    services.mark_stale_gateways_offline(now=NOW)
    assert (status_of(acme), status_of(globex)) == ("online", "offline")


def test_gateways_already_offline_are_not_counted(org):
    gateway_seen(org, "gone", 3600, status=GatewayStatus.OFFLINE)
    assert services.mark_stale_gateways_offline(now=NOW) == 0


def test_the_periodic_task_marks_stale_gateways_offline(org):
    stale = gateway_seen(org, "stale", 3600)
    assert tasks.mark_stale_gateways_offline.apply().get() == 1
    assert status_of(stale) == "offline"


def test_celery_beat_runs_the_stale_check_every_30_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["mark-stale-gateways-offline"]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == 30.0
