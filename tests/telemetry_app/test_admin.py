"""The telemetry credential admin: listed per organization, never the secret, rotated by an audited action."""

import pytest
from django.test import Client

from core_app.models import AuditLog
from gateways_app.models import Gateway
from telemetry_app import credentials
from telemetry_app.models import TelemetryCredential

pytestmark = pytest.mark.django_db

LIST = "/admin/telemetry_app/telemetrycredential/"


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_owners_see_their_credentials_without_the_secret_and_rotate_them(alice, gateway):
    header = credentials.telemetry_credential_for(gateway)
    row = TelemetryCredential.objects.get()
    client = login(alice)
    page = client.get(f"{LIST}{row.pk}/change/").content.decode()
    assert row.prefix in page
    assert header.rsplit("_", 1)[1] not in page and row.seed not in page and row.digest not in page
    response = client.post(LIST, {"action": "rotate", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert credentials.telemetry_credential_for(gateway) != header
    assert TelemetryCredential.objects.get(pk=row.pk).replaced_at is not None
    entry = AuditLog.objects.get(action="gateway.telemetry_credential_rotated")
    assert entry.actor_name == "alice"


def test_other_orgs_credentials_are_neither_listed_nor_rotated(alice, charlie, other_org):
    theirs = Gateway.objects.create(organization=other_org, name="theirs")
    header = credentials.telemetry_credential_for(theirs)
    row = TelemetryCredential.objects.get()
    client = login(alice)
    assert row.prefix not in client.get(LIST).content.decode()
    client.post(LIST, {"action": "rotate", "_selected_action": [row.pk]})
    assert credentials.telemetry_credential_for(theirs) == header
    assert row.prefix in login(charlie).get(LIST).content.decode()
