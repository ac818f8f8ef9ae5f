"""POST /v1/metrics through Django's test client: credentials, body checks, load shedding, the OTLP reply.

The view does its work in worker threads, so the tests commit their data (`transaction=True`).
"""

import asyncio
import gzip
from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from flowgate_site.body_limits import BodyLimits
from gateways_app.models import Gateway
from telemetry_app import credentials, views
from telemetry_app.models import Rollup, TelemetryCredential
from tests.telemetry_app.conftest import accepted_logs, gzip_bomb, now_ns, post, totals

pytestmark = pytest.mark.django_db(transaction=True)

LOGS_ACCEPTED = ("receiver", "filelog", "logs", "accepted")


def report(value=10):
    now = now_ns()
    return accepted_logs(value, start_ns=now - 60 * 10**9, time_ns=now)


def test_a_report_is_answered_with_an_otlp_response_and_rolled_up(client, credential, gateway):
    response = post(client, credential, report(10))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-protobuf"
    reply = ExportMetricsServiceResponse.FromString(response.content)
    assert not reply.HasField("partial_success")
    assert totals(gateway) == {LOGS_ACCEPTED: 10}
    assert Rollup.objects.get().organization_id == gateway.organization_id


def test_a_gzipped_report_is_accepted(client, credential, gateway):
    response = post(client, credential, gzip.compress(report(7).SerializeToString()), Content_Encoding="gzip")
    assert response.status_code == 200, response.content
    assert totals(gateway) == {LOGS_ACCEPTED: 7}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nonsense", "Basic Zm9vOmJhcg==", "Bearer fgt_000000000000_AAAA"],
)
def test_a_missing_or_unknown_credential_is_401(client, credential, gateway, authorization):
    response = post(client, authorization, report())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Rollup.objects.exists()


def test_a_wrong_secret_with_a_real_prefix_is_401(client, credential, gateway):
    forged = credential[:-4] + ("AAAA" if not credential.endswith("AAAA") else "BBBB")
    assert post(client, forged, report()).status_code == 401
    assert not Rollup.objects.exists()


def test_a_replaced_credential_works_for_the_grace_period_only(client, credential, gateway):
    fresh = credentials.rotate(gateway)
    assert post(client, credential, report(1)).status_code == 200  # within the grace period
    TelemetryCredential.objects.filter(replaced_at__isnull=False).update(
        replaced_at=timezone.now() - timedelta(minutes=61)
    )
    response = post(client, credential, report(2))
    assert response.status_code == 401
    assert b"replaced" in response.content
    assert post(client, f"Bearer {credentials.credential_text(fresh)}", report(3)).status_code == 200
    assert totals(gateway) == {LOGS_ACCEPTED: 4}


def test_a_credential_writes_only_its_own_gateways_rows(client, credential, gateway, other_org):
    """Org A's credential cannot write org B's rows, whatever the payload says about where it comes from."""
    theirs = Gateway.objects.create(organization=other_org, name="their-gw", instance_uid="0" * 31 + "1")
    request = report(5)
    request.resource_metrics[0].resource.attributes.add(key="service.instance.id").value.string_value = str(
        theirs.instance_uid
    )
    assert post(client, credential, request).status_code == 200
    assert totals(theirs) == {}
    assert set(Rollup.objects.values_list("gateway_id", "organization_id")) == {(gateway.pk, gateway.organization_id)}


def test_a_credential_row_moved_to_another_org_is_refused(client, credential, gateway, other_org):
    TelemetryCredential.objects.update(organization=other_org)
    assert post(client, credential, report()).status_code == 401
    assert not Rollup.objects.exists()


def test_a_wrong_content_type_is_415(client, credential):
    response = post(client, credential, b"{}", content_type="application/json")
    assert response.status_code == 415
    assert b"application/x-protobuf" in response.content


def test_an_unknown_content_encoding_is_415(client, credential):
    assert post(client, credential, report(), Content_Encoding="br").status_code == 415


def test_a_malformed_protobuf_is_400(client, credential):
    response = post(client, credential, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert response.status_code == 400
    assert b"not an OTLP ExportMetricsServiceRequest" in response.content
    assert not Rollup.objects.exists()


def test_a_broken_gzip_body_is_400(client, credential):
    assert post(client, credential, b"\x1f\x8b\x08\x00 not gzip", Content_Encoding="gzip").status_code == 400


def test_an_oversize_body_is_413(client, credential, settings):
    settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES = 1000
    response = post(client, credential, b"\x00" * 1001)
    assert response.status_code == 413
    assert not Rollup.objects.exists()


def test_the_server_refuses_bodies_over_the_metrics_limit_while_they_arrive(settings):
    limits = BodyLimits.from_settings()
    assert limits.limit_for(b"/v1/metrics") == settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES == 1024 * 1024


def test_a_gzip_bomb_is_refused_while_decompressing(client, credential, settings):
    bomb = gzip_bomb(256 * 1024 * 1024)  # 256 MiB inflated, 16 times the limit
    assert len(bomb) < settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES
    response = post(client, credential, bomb, Content_Encoding="gzip")
    assert response.status_code == 413
    assert b"decompressed body exceeds" in response.content


def test_overload_is_503_with_retry_after(client, credential, settings, monkeypatch):
    settings.FLOWGATE_TELEMETRY_MAX_INFLIGHT = 2
    settings.FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS = 20
    monkeypatch.setattr(views.Inflight, "count", 2)
    response = post(client, credential, report())
    assert response.status_code == 503
    assert response["Retry-After"] == "20"
    assert not Rollup.objects.exists()


def test_points_outside_the_kept_range_come_back_as_partial_success(client, credential, gateway):
    now = now_ns()
    old = now - 3 * 24 * 3600 * 10**9  # older than the 48 h of per-minute rows
    request = accepted_logs(4, start_ns=old - 10**9, time_ns=old)
    request.resource_metrics.extend(report(6).resource_metrics)
    response = post(client, credential, request)
    assert response.status_code == 200
    reply = ExportMetricsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_data_points == 1
    assert "outside the kept range" in reply.partial_success.error_message


def test_get_is_not_allowed(client):
    assert client.get("/v1/metrics").status_code == 405


def test_an_address_guessing_credentials_gets_429_before_any_lookup(client, credential, gateway, settings):
    settings.FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE = "3/m"
    for _ in range(3):
        assert post(client, "Bearer fgt_000000000000_guess", report()).status_code == 401
    response = post(client, credential, report())  # even a good credential, from that address
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not Rollup.objects.exists()


def test_the_work_runs_off_the_event_loop(client, credential, monkeypatch):
    """Credential lookup, gunzip, decoding and writes run in a thread with no event loop running in it."""
    handle, loops = views.handle, []

    def recording_handle(request):
        try:
            loops.append(asyncio.get_running_loop())
        except RuntimeError:
            loops.append(None)
        return handle(request)

    monkeypatch.setattr(views, "handle", recording_handle)
    assert post(client, credential, report()).status_code == 200
    assert loops == [None]


def test_a_database_outage_is_503_with_retry_after(client, credential, settings, request):
    settings.FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS = 25
    request.getfixturevalue("database_down")
    response = post(client, credential, report())
    assert response.status_code == 503
    assert response["Retry-After"] == "25"
