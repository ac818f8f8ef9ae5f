"""Telemetry credentials: the header value the OpAMP offer sends, what is stored, rotation."""

import pytest

from telemetry_app import credentials
from telemetry_app.models import TelemetryCredential

pytestmark = pytest.mark.django_db


def test_the_header_value_is_stable_and_not_stored(gateway):
    header = credentials.telemetry_credential_for(gateway)
    assert header.startswith("Bearer fgt_")
    assert credentials.telemetry_credential_for(gateway) == header  # offered again on every connection
    row = TelemetryCredential.objects.get()
    secret = header.removeprefix("Bearer ").rsplit("_", 1)[1]
    assert secret not in f"{row.prefix} {row.seed} {row.digest}"
    verified = credentials.verify(header.removeprefix("Bearer "))
    assert (verified.credential_id, verified.gateway.pk, verified.gateway.organization_id) == (
        row.pk,
        gateway.pk,
        gateway.organization_id,
    )


def test_rotation_gives_a_new_credential_and_keeps_the_old_one_for_the_grace_period(gateway):
    old = credentials.telemetry_credential_for(gateway)
    new_row = credentials.rotate(gateway)
    new = credentials.telemetry_credential_for(gateway)
    assert new != old and new == f"Bearer {credentials.credential_text(new_row)}"
    assert credentials.verify(old.removeprefix("Bearer ")).replaced


def test_the_secret_depends_on_the_server_key(gateway, settings):
    header = credentials.telemetry_credential_for(gateway)
    settings.JWT_SIGNING_KEY = "another key"
    with pytest.raises(credentials.CredentialError):
        credentials.verify(header.removeprefix("Bearer "))
