"""Sign-in, the org switcher, error pages, settings and the audit log."""

import pytest
from django.test import Client
from django.urls import reverse

from core_app.models import AuditLog, OrgSettings
from core_app.roles import Role
from core_app.services import set_membership

pytestmark = pytest.mark.django_db


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get(reverse("templates:list"))
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/templates/"


def test_it_signs_in_and_lands_on_the_dashboard(alice):
    client = Client()
    response = client.post(reverse("core:login"), {"username": "alice", "password": "s3cret-pass-123"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"Fleet, rollouts and failures" in response.content


def test_a_wrong_password_is_an_error_on_the_sign_in_page(alice):
    response = Client().post(reverse("core:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_the_root_is_the_dashboard_not_the_admin(alice_browser, org):
    response = alice_browser.get("/")
    assert response.status_code == 200
    assert response.templates[0].name == "dashboard_app/dashboard.html"


def test_switching_org_changes_what_the_pages_show(alice, alice_browser, acme_fleet, globex_fleet):
    set_membership(globex_fleet["org"], alice, Role.VIEWER)
    assert "acme-traces" in alice_browser.get(reverse("templates:list")).content.decode()
    response = alice_browser.post(reverse("core:switch-org"), {"org": "globex", "next": "/templates/"})
    assert response["Location"] == "/templates/"
    content = alice_browser.get(reverse("templates:list")).content.decode()
    assert "globex-traces" in content and "acme-traces" not in content
    assert ">Viewer</span>" in content  # her role in globex


def test_one_cannot_switch_to_an_org_one_is_not_a_member_of(alice_browser, acme_fleet, globex_fleet):
    alice_browser.post(reverse("core:switch-org"), {"org": "globex"})
    assert "acme-traces" in alice_browser.get(reverse("templates:list")).content.decode()


def test_switching_from_a_detail_page_goes_to_the_sections_list(alice, alice_browser, acme_fleet, other_org):
    set_membership(other_org, alice, Role.OWNER)
    url = reverse("templates:detail", args=[acme_fleet["template"].pk])
    response = alice_browser.post(reverse("core:switch-org"), {"org": "globex", "next": url})
    assert response["Location"] == "/templates/"


def test_an_unknown_url_is_the_404_page(alice_browser, org):
    response = alice_browser.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b"Traceback" not in response.content


def test_settings_errors_are_shown_next_to_the_field(alice_browser, org):
    data = {
        "opamp_token_lifetime_days": 365,
        "registration_token_lifetime_hours": 24,
        "heartbeat_interval_seconds": 2,
        "default_strategy": "rolling",
        "default_batch_percent": 25,
        "default_canary_percent": 10,
        "default_health_window_seconds": 60,
        "default_failure_threshold_percent": 10,
        "extra_allowed_components": '["Kafka!"]',
    }
    response = alice_browser.post(reverse("core:settings"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "heartbeat_interval_seconds" in form.errors and "extra_allowed_components" in form.errors
    assert 'id="errors-heartbeat_interval_seconds"' in response.content.decode()
    assert OrgSettings.objects.get(organization=org).heartbeat_interval_seconds == 30


def test_saving_settings_is_audited(alice_browser, org):
    data = {
        "opamp_token_lifetime_days": 90,
        "registration_token_lifetime_hours": 24,
        "heartbeat_interval_seconds": 15,
        "opamp_token_grace_minutes": 60,
        "opamp_token_rotate_days": 30,
        "default_strategy": "canary",
        "default_batch_percent": 25,
        "default_canary_percent": 10,
        "default_health_window_seconds": 60,
        "default_failure_threshold_percent": 10,
        "default_auto_rollback": "on",
        "extra_allowed_components": "[]",
        "telemetry_minute_retention_hours": 48,
        "telemetry_hour_retention_days": 90,
        "telemetry_interval_seconds": 30,
    }
    assert alice_browser.post(reverse("core:settings"), data).status_code == 302
    assert OrgSettings.objects.get(organization=org).heartbeat_interval_seconds == 15
    entry = AuditLog.objects.get(action="settings.updated")
    assert set(entry.changes) == {"opamp_token_lifetime_days", "heartbeat_interval_seconds", "default_strategy"}


def test_the_audit_log_filters_by_actor_action_object_and_time(alice_browser, acme_fleet):
    log = reverse("core:audit-log")
    assert "template_version.created" in alice_browser.get(log + "?action=template").content.decode()
    assert "deployment.created" not in alice_browser.get(log + "?action=template").content.decode()
    assert "deployment.created" in alice_browser.get(log + "?actor=alice&object_type=deployment").content.decode()
    assert "No entries match" in alice_browser.get(log + "?created_before=2000-01-01T00:00").content.decode()


def test_a_bad_audit_filter_is_explained(alice_browser, org):
    response = alice_browser.get(reverse("core:audit-log") + "?created_after=yesterday")
    assert "created_after: Enter a valid date/time." in response.content.decode()
