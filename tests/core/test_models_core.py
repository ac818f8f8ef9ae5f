import pytest
from django.db import IntegrityError

from core_app import audit
from core_app.models import AuditLog, Membership
from core_app.roles import Role
from core_app.services import create_organization, set_membership


def test_new_organizations_get_default_settings(db):
    org = create_organization("initech", "Initech")
    assert org.settings.opamp_token_lifetime_days == 365
    assert org.settings.registration_token_lifetime_hours == 24


def test_audit_entries_cannot_be_changed_or_deleted(alice, org):
    entry = audit.record(org, "template.created", user=alice)
    entry.action = "nothing.happened"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditLog.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "template.created"


def test_a_user_is_member_of_an_org_once(alice, org):
    with pytest.raises(IntegrityError):
        Membership.objects.create(organization=org, user=alice, role=Role.VIEWER)


def test_set_membership_changes_the_role(alice, org):
    set_membership(org, alice, Role.VIEWER)
    assert org.role_of(alice) == Role.VIEWER


def test_audit_records_the_source_ip_of_a_request(rf, alice, org):
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    request.user = alice
    entry = audit.record(org, "template.created", request=request)
    assert entry.source_ip == "203.0.113.9"
    assert entry.actor_user == alice
