"""The collector's deep check of a new version runs as a task, never in the request that saved it
(issue 13, point 1): the version is "checking", not deployable, until the task stores the verdict."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core_app.models import AuditLog
from templates_app.models import TemplateVersion, ValidationState
from templates_app.services import create_version, revalidate_version
from templates_app.tasks import check_version, check_versions
from tests import live
from tests.live import Daphne, free_port

from .test_validation_collector import FILELOG_WITHOUT_INCLUDE, GOOD
from .validation_helpers import collector_binary

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted_binary(tmp_path):
    """The real collector behind a wrapper that notes each run in a file: (path, runs())."""
    real = collector_binary()
    runs = tmp_path / "runs"
    wrapper = tmp_path / "otelcol-counted"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {runs}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), lambda: len(runs.read_text().splitlines()) if runs.exists() else 0


def save(template, alice, text):
    return create_version(template, config_yaml=text, change_summary="", author=alice)


@pytest.mark.process
class TestTheRequestDoesNotRunTheCollector:
    def test_a_version_is_saved_checking_and_the_collector_is_not_run(self, settings, counted_binary, template, alice):
        settings.FLOWGATE_COLLECTOR_BINARY, runs = counted_binary
        version = save(template, alice, GOOD)
        assert runs() == 0
        version.refresh_from_db()
        assert (version.validation_state, version.validated_at) == (ValidationState.CHECKING, None)
        assert not version.is_deployable()
        assert template.current_version().number == 1  # the new version is not current yet

    def test_the_task_runs_it_and_stores_the_verdict_once(self, settings, counted_binary, template, alice):
        settings.FLOWGATE_COLLECTOR_BINARY, runs = counted_binary
        version = save(template, alice, GOOD)
        assert check_version(str(version.pk)) == ValidationState.WARNINGS  # a logs pipeline in a traces template
        assert runs() == 1
        version.refresh_from_db()
        assert version.validated_at is not None and version.is_deployable()
        assert [w["code"] for w in version.validation_warnings] == ["template.type_mismatch"]
        assert template.current_version() == version
        entry = AuditLog.objects.get(action="template_version.checked")
        assert entry.changes == {"validation_state": {"from": "checking", "to": "warnings"}, "deep_check": "passed"}
        # Settled: running the task again (a redelivered message) changes nothing and runs nothing.
        assert check_version(str(version.pk)) == ValidationState.WARNINGS
        assert (runs(), AuditLog.objects.filter(action="template_version.checked").count()) == (1, 1)

    def test_a_config_the_collector_refuses_becomes_invalid(self, settings, counted_binary, template, alice):
        settings.FLOWGATE_COLLECTOR_BINARY, _ = counted_binary
        version = save(template, alice, FILELOG_WITHOUT_INCLUDE)
        check_version(str(version.pk))
        version.refresh_from_db()
        assert version.validation_state == ValidationState.INVALID
        assert "'include' must be specified" in version.validation_errors[0]["message"]
        assert template.current_version().number == 1

    def test_errors_of_the_fast_checks_are_stored_at_once(self, settings, counted_binary, template, alice):
        settings.FLOWGATE_COLLECTOR_BINARY, runs = counted_binary
        version = save(template, alice, GOOD.replace("exporters: [otlphttp]", "exporters: [nowhere]"))
        assert version.validation_state == ValidationState.INVALID  # no deep check to wait for
        assert TemplateVersion.objects.checking().count() == 0
        assert runs() == 0

    def test_check_versions_checks_every_version_left_checking(self, settings, counted_binary, template, alice):
        settings.FLOWGATE_COLLECTOR_BINARY, runs = counted_binary
        first, second = save(template, alice, GOOD), save(template, alice, FILELOG_WITHOUT_INCLUDE)
        # With a broker only versions checking for a while (their queued check was lost) are picked up.
        assert check_versions(60) == 0
        assert check_versions() == 2
        assert runs() == 2
        states = dict(
            TemplateVersion.objects.filter(pk__in=[first.pk, second.pk]).values_list("number", "validation_state")
        )
        assert states == {first.number: "warnings", second.number: "invalid"}

    def test_revalidating_checks_again_through_the_task(self, settings, counted_binary, template, alice):
        version = save(template, alice, GOOD)  # no collector yet: settled at once
        settings.FLOWGATE_COLLECTOR_BINARY, runs = counted_binary
        revalidate_version(version, user=alice)
        assert (version.validation_state, runs()) == (ValidationState.CHECKING, 0)
        check_version(str(version.pk))
        version.refresh_from_db()
        assert (version.validation_state, runs()) == (ValidationState.WARNINGS, 1)


class TestQueueing:
    def test_with_a_broker_the_check_is_queued_after_the_commit(
        self, settings, template, alice, django_capture_on_commit_callbacks
    ):
        settings.FLOWGATE_COLLECTOR_BINARY = "/nonexistent/otelcol"
        assert settings.CELERY_TASK_ALWAYS_EAGER is False
        with django_capture_on_commit_callbacks() as callbacks:
            save(template, alice, GOOD)
        assert len(callbacks) == 1

    def test_without_a_broker_the_request_queues_nothing(
        self, settings, template, alice, django_capture_on_commit_callbacks
    ):
        # Eager Celery would run the collector in the request: the embedded beat's check-versions does.
        settings.FLOWGATE_COLLECTOR_BINARY = "/nonexistent/otelcol"
        settings.CELERY_TASK_ALWAYS_EAGER = True
        with django_capture_on_commit_callbacks() as callbacks:
            version = save(template, alice, GOOD)
        assert (callbacks, version.validation_state) == ([], ValidationState.CHECKING)

    def test_the_admin_action_queues_the_same_check(
        self, client, settings, template, alice, django_capture_on_commit_callbacks
    ):
        settings.FLOWGATE_COLLECTOR_BINARY = "/nonexistent/otelcol"
        version = template.versions.get()
        client.force_login(alice)
        url = reverse("admin:templates_app_templateversion_changelist")
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(url, {"action": "revalidate", "_selected_action": [version.pk]}, follow=True)
        assert len(callbacks) == 1
        version.refresh_from_db()
        assert version.validation_state == ValidationState.CHECKING
        assert "edge v1 is being checked" in " ".join(str(message) for message in response.context["messages"])

    def test_without_a_collector_nothing_is_queued_and_the_version_is_settled(
        self, template, alice, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            version = save(template, alice, GOOD)
        assert (callbacks, version.validation_state) == ([], ValidationState.WARNINGS)


@pytest.mark.process
@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("", {"task": "templates_app.tasks.check_versions", "schedule": 1.0}),
        ("redis://127.0.0.1:6379/0", {"task": "templates_app.tasks.check_versions", "schedule": 30.0, "args": [60]}),
    ],
)
def test_the_beat_schedule_checks_versions(redis_url, expected):
    """Without a broker the embedded beat runs check-versions every second; with one, a slow sweep."""
    code = (
        "import json, django; django.setup(); from django.conf import settings;"
        "print(json.dumps(settings.CELERY_BEAT_SCHEDULE['check-versions']))"
    )
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "flowgate_site.settings"}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(output.stdout.strip().splitlines()[-1]) == expected


@pytest.mark.process
def test_a_version_checking_for_long_is_picked_up_by_the_sweep(settings, template, alice):
    settings.FLOWGATE_COLLECTOR_BINARY = "/nonexistent/otelcol"  # the deep check reports it unavailable
    version = save(template, alice, GOOD)
    TemplateVersion._base_manager.filter(pk=version.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert check_versions(60) == 1
    version.refresh_from_db()
    assert version.validation_state == ValidationState.WARNINGS
    assert "collector.unavailable" in [w["code"] for w in version.validation_warnings]


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_server_without_a_broker_checks_new_versions_by_itself(settings, counted_binary, template, alice):
    """`make run`'s shape (no REDIS_URL, eager tasks): the embedded beat's check-versions entry does it."""
    live.test_database_url()
    binary, runs = counted_binary
    settings.FLOWGATE_COLLECTOR_BINARY = binary
    version = save(template, alice, GOOD)
    server = Daphne([free_port()], REDIS_URL="", FLOWGATE_EMBEDDED_BEAT="true", FLOWGATE_COLLECTOR_BINARY=binary)
    try:
        deadline = time.monotonic() + 30
        while TemplateVersion.objects.checking().filter(pk=version.pk).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        output = server.stop()
    version.refresh_from_db()
    assert version.validation_state == ValidationState.WARNINGS, output[-3000:]
    assert runs() == 1
    assert "Traceback" not in output
