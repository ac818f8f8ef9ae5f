"""Without a broker the server process runs the beat schedule and the rollout ticks (flowgate_site.embedded_beat)."""

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from core_app.models import Strategy
from deployments_app import tasks
from deployments_app.models import Deployment, DeploymentStatus
from flowgate_site import embedded_beat
from flowgate_site.embedded_beat import EmbeddedBeat, Job
from gateways_app.models import Gateway, GatewayStatus
from tests import live
from tests.deployments_app.engine import deploy, make_fleet, new_version, report, states
from tests.live import Daphne, free_port

ROLLING = {"strategy": Strategy.ROLLING, "batch_size": 1}  # two gateways: batch 0, then batch 1
ROLLOUT_TICKS = "tick-rollouts"  # the schedule's entry without a broker (settings.py)


def rolling_deployment(org, alice):
    """gw-01 and gw-02 online just now; a rollout in two batches whose batch 0 (gw-01) is sent."""
    fleet = make_fleet(org, 2)
    Gateway.objects.filter(pk__in=[gateway.pk for gateway in fleet]).update(last_seen=timezone.now())
    version = new_version(org)
    deployment = deploy(org, alice, version, fleet, **ROLLING)
    assert states(deployment) == {"gw-01": "sent", "gw-02": "pending"}  # the first tick ran on commit
    return deployment, version


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def run_beat(beat, until, timeout=15):
    """Run `beat` on an event loop until `until()` (a database check) holds or the time is up."""

    async def main():
        task = beat.start()

        def check_and_close():
            try:
                return until()
            finally:
                connections.close_all()  # this thread's; the test database is dropped at the end

        check = sync_to_async(check_and_close, thread_sensitive=False)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if await check():
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            task.cancel()

    return asyncio.run(main())


def test_it_runs_only_without_a_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER, settings.FLOWGATE_EMBEDDED_BEAT = True, True
    assert embedded_beat.wanted()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert not embedded_beat.wanted()
    settings.CELERY_TASK_ALWAYS_EAGER, settings.FLOWGATE_EMBEDDED_BEAT = True, False
    assert not embedded_beat.wanted()


def test_its_jobs_are_the_rollout_ticks_and_the_beat_schedule(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        ROLLOUT_TICKS: {"task": "deployments_app.tasks.tick_rollouts", "schedule": 2},
        "every-30s": {"task": "opamp_app.tasks.mark_stale_gateways_offline", "schedule": 30.0},
        "every-minute": {"task": "deployments_app.tasks.reconcile_deployments", "schedule": timedelta(minutes=1)},
    }
    assert [(job.name, job.seconds) for job in embedded_beat.jobs()] == [
        (ROLLOUT_TICKS, 2),
        ("every-30s", 30.0),
        ("every-minute", 60.0),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_ticks_carry_a_rollout_to_its_end(org, alice):
    deployment, version = rolling_deployment(org, alice)
    report(["gw-01"], version)
    beat = EmbeddedBeat([Job(ROLLOUT_TICKS, 0.1, tasks.tick_rollouts.apply)], first_delay=0)

    def gw_02_sent():
        return states(deployment)["gw-02"] == "sent"

    assert run_beat(beat, gw_02_sent)
    report(["gw-02"], version)
    assert run_beat(beat, lambda: Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED)


@pytest.mark.django_db(transaction=True)
def test_the_schedule_runs_the_periodic_tasks(org, settings):
    # A plain-HTTP gateway silent for an hour: mark_stale_gateways_offline's work.
    silent = Gateway.objects.create(
        organization=org, name="silent", status=GatewayStatus.ONLINE, last_seen=timezone.now() - timedelta(hours=1)
    )
    settings.CELERY_BEAT_SCHEDULE = {
        "stale": {"task": "opamp_app.tasks.mark_stale_gateways_offline", "schedule": 0.1},
    }
    beat = EmbeddedBeat(embedded_beat.jobs(), first_delay=0)
    assert run_beat(beat, lambda: Gateway.objects.get(pk=silent.pk).status == GatewayStatus.OFFLINE)


def test_a_failing_job_is_logged_and_the_others_go_on(caplog):
    runs = []

    def broken():
        raise RuntimeError("database gone")

    beat = EmbeddedBeat([Job("broken", 0.05, broken), Job("counter", 0.05, lambda: runs.append(1))], first_delay=0)
    with caplog.at_level(logging.ERROR, logger="flowgate_site.embedded_beat"):
        assert run_beat(beat, lambda: len(runs) >= 3, timeout=5)
    assert "embedded beat: broken failed" in caplog.text


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_server_without_a_broker_advances_rollouts_by_itself(org, alice):
    """`make run`'s shape: flowgate_site.serve with no REDIS_URL (eager tasks, in-memory layers)."""
    live.test_database_url()  # PostgreSQL: the server process must see this test's rows
    deployment, version = rolling_deployment(org, alice)
    server = Daphne([free_port()], REDIS_URL="", FLOWGATE_EMBEDDED_BEAT="true", FLOWGATE_ROLLOUT_TICK_SECONDS="0.5")
    try:
        server.output.wait_for("embedded beat: no broker", server.process)
        report(["gw-01"], version)
        assert wait_for(lambda: states(deployment)["gw-02"] == "sent")
        report(["gw-02"], version)
        assert wait_for(lambda: Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED)
    finally:
        output = server.stop()
    assert "Traceback" not in output


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_server_with_a_broker_leaves_it_to_the_worker(org, alice):
    live.test_database_url()
    deployment, version = rolling_deployment(org, alice)
    server = Daphne(
        [free_port()],
        CELERY_TASK_ALWAYS_EAGER="false",
        FLOWGATE_EMBEDDED_BEAT="true",
        FLOWGATE_ROLLOUT_TICK_SECONDS="0.2",
    )
    try:
        report(["gw-01"], version)
        # An embedded beat would tick every 0.2 s from 1 s after the start on and send batch 1 (gw-02): it stays
        # pending for 2 s (the check fails as soon as it moves).
        moved = wait_for(lambda: states(deployment)["gw-02"] != "pending", timeout=2)
    finally:
        output = server.stop()
    assert "embedded beat" not in output
    assert not moved
