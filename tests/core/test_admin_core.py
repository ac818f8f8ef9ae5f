import pytest
from django.test import Client

from core_app import audit
from core_app.models import Membership, OrgSettings
from core_app.roles import Role


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_only_their_organizations(alice, charlie, org, other_org):
    body = login(alice).get("/admin/flowgate_site/organization/").content.decode()
    assert "Acme" in body and "Globex" not in body


def test_staff_cannot_open_another_orgs_settings(alice, other_org):
    settings_row = OrgSettings.objects.get(organization=other_org)
    response = login(alice).get(f"/admin/flowgate_site/orgsettings/{settings_row.pk}/change/")
    assert response.status_code == 302  # the admin redirects a missing object to the index
    assert OrgSettings.objects.for_user(alice).filter(pk=settings_row.pk).count() == 0


def test_owner_changes_settings_in_admin(alice, org):
    settings_row = OrgSettings.objects.get(organization=org)
    url = f"/admin/flowgate_site/orgsettings/{settings_row.pk}/change/"
    data = {
        "opamp_token_lifetime_days": 30,
        "registration_token_lifetime_hours": 2,
        "heartbeat_interval_seconds": 10,
        "opamp_token_grace_minutes": 60,
        "opamp_token_rotate_days": 7,
        "default_strategy": "canary",
        "default_batch_percent": 20,
        "default_canary_percent": 5,
        "default_health_window_seconds": 30,
        "default_failure_threshold_percent": 10,
        "default_auto_rollback": "on",
        "extra_allowed_components": '["kafka"]',
        "telemetry_minute_retention_hours": 24,
        "telemetry_hour_retention_days": 30,
        "telemetry_interval_seconds": 30,
    }
    response = login(alice).post(url, data)
    assert response.status_code == 302
    settings_row.refresh_from_db()
    assert settings_row.heartbeat_interval_seconds == 10
    assert settings_row.extra_allowed_components == ["kafka"]
    assert (settings_row.telemetry_minute_retention_hours, settings_row.telemetry_hour_retention_days) == (24, 30)


def test_admin_form_shows_a_field_error_for_bad_components(alice, org):
    settings_row = OrgSettings.objects.get(organization=org)
    url = f"/admin/flowgate_site/orgsettings/{settings_row.pk}/change/"
    response = login(alice).post(url, {"extra_allowed_components": '"kafka"', "heartbeat_interval_seconds": 1})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "extra_allowed_components" in errors and "heartbeat_interval_seconds" in errors


class TestViewers:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_they_see_settings_read_only(self, bob, org):
        settings_row = OrgSettings.objects.get(organization=org)
        client = login(bob)
        url = f"/admin/flowgate_site/orgsettings/{settings_row.pk}/change/"
        assert client.get(url).status_code == 200
        assert client.post(url, {"heartbeat_interval_seconds": 10}).status_code == 403

    def test_they_cannot_add_members(self, bob, org):
        assert login(bob).get("/admin/flowgate_site/membership/add/").status_code == 403


def test_audit_entries_are_read_only_even_for_superusers(django_user_model, alice, org):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough-1")
    entry = audit.record(org, "template.created", user=alice)
    client = login(root)
    url = f"/admin/flowgate_site/auditlog/{entry.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"action": "x"}).status_code == 403
    assert client.get(f"/admin/flowgate_site/auditlog/{entry.pk}/delete/").status_code == 403


def test_admins_pick_members_only_among_their_orgs_people(alice, charlie, org):
    response = login(alice).get("/admin/flowgate_site/membership/add/")
    choices = [label for _, label in response.context["adminform"].form.fields["user"].choices]
    assert "alice" in choices and "charlie" not in choices
    assert Membership.objects.for_user(alice).filter(user=charlie).count() == 0
