"""The gateway page tells the truth about errors (dated, resolved) and about config differences (by meaning)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from gateways_app.models import Gateway
from opamp_app import services
from opamp_core import protocol
from opamp_core.proto import opamp_pb2

pytestmark = pytest.mark.django_db

CRASHED = datetime(2026, 12, 5, 9, 30, 0, tzinfo=UTC)
STARTED = CRASHED + timedelta(seconds=40)
REPORTED = CRASHED + timedelta(minutes=1)


def report(gateway, now, **fields):
    """One AgentToServer through the OpAMP protocol core and the server's write, as a transport does it."""
    gateway.refresh_from_db()
    uid = gateway.instance_uid.bytes if gateway.instance_uid else b"\x01" * 16
    message = opamp_pb2.AgentToServer(instance_uid=uid, sequence_num=1, **fields)
    result = protocol.process(message, protocol.GatewayState.from_gateway(gateway), now=now)
    services.save_changes(gateway.pk, result.changes)
    gateway.refresh_from_db()
    return gateway


def supervisor_health(healthy, error, *, at, started=None):
    collector = opamp_pb2.ComponentHealth(
        healthy=healthy, status="running" if healthy else "restarting after a crash", last_error=error,
        status_time_unix_nano=int(at.timestamp() * 1e9),
        start_time_unix_nano=int(started.timestamp() * 1e9) if started else 0,
    )  # fmt: skip
    root = opamp_pb2.ComponentHealth()
    root.CopyFrom(collector)
    root.component_health_map["collector"].CopyFrom(collector)
    return root


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_crash_error_is_dated_and_shown_resolved_once_the_collector_is_healthy(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    detail = reverse("gateways:detail", args=[gateway.pk])
    report(gateway, CRASHED, health=supervisor_health(False, "collector exited with code 1: bind failed", at=CRASHED))
    page = text_of(alice_browser.get(detail).content.decode())
    assert "open collector exited with code 1: bind failed — collector, at 2026-12-05 09:30:00 UTC" in page

    # The supervisor of old kept its last_error once healthy again: still shown, but dated and resolved.
    healthy = supervisor_health(True, "collector exited with code 1: bind failed", at=REPORTED, started=STARTED)
    report(gateway, REPORTED, health=healthy)
    content = alice_browser.get(detail).content.decode()
    page = text_of(content)
    assert (
        "resolved collector exited with code 1: bind failed — collector, at 2026-12-05 09:30:00 UTC; "
        "resolved at 2026-12-05 09:31:00 UTC, healthy since 2026-12-05 09:30:40 UTC"
    ) in page
    assert "open collector exited" not in page
    assert 'style="color:var(--bad)">collector exited' not in content  # no red error next to "healthy"
    assert "reported while healthy" in page


def test_a_failed_remote_config_shows_its_time_until_an_applied_config_resolves_it(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    detail = reverse("gateways:detail", args=[gateway.pk])
    failed = opamp_pb2.RemoteConfigStatus(
        last_remote_config_hash=bytes.fromhex("ab" * 32),
        status=opamp_pb2.RemoteConfigStatuses_FAILED,
        error_message="address already in use",
    )
    report(gateway, CRASHED, remote_config_status=failed)
    page = text_of(alice_browser.get(detail).content.decode())
    assert "Config error address already in use at 2026-12-05 09:30:00 UTC" in page

    applied = opamp_pb2.RemoteConfigStatus(
        last_remote_config_hash=bytes.fromhex("cd" * 32), status=opamp_pb2.RemoteConfigStatuses_APPLIED
    )
    report(gateway, REPORTED, remote_config_status=applied, health=supervisor_health(True, "", at=REPORTED,
                                                                                      started=STARTED))  # fmt: skip
    page = text_of(alice_browser.get(detail).content.decode())
    assert "Config error" not in page
    assert "resolved at 2026-12-05 09:31:00 UTC, healthy since 2026-12-05 09:30:40 UTC" in page


def test_the_api_gives_the_dated_errors(api_client, acme_fleet):
    gateway = acme_fleet["gateway"]
    report(gateway, CRASHED, health=supervisor_health(False, "boom", at=CRASHED))
    data = api_client.get(f"/api/v1/gateways/{gateway.pk}/").json()
    [entry] = data["health_errors"]
    assert (entry["message"], entry["at"], entry["resolved_at"]) == ("boom", "2026-12-05T09:30:00+00:00", None)


DESIRED = """receivers:
  filelog:
    include: [/var/log/app.log]
exporters:
  otlphttp:
    endpoint: "http://sink:4318"
service:
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlphttp]
"""
# The same config as the supervisor's YAML dumper writes it: other key order, quoting and list style.
REFORMATTED = """service:
  pipelines:
    logs:
      exporters:
      - otlphttp
      receivers:
      - filelog
exporters:
  otlphttp:
    endpoint: http://sink:4318
receivers:
  filelog:
    include:
    - /var/log/app.log
"""


def detail_with_configs(browser, gateway, desired, effective, *, applied=True):
    desired_hash = "ab" * 32
    Gateway.objects.filter(pk=gateway.pk).update(
        desired_config=desired,
        desired_config_hash=desired_hash,
        effective_config=effective,
        remote_config_hash=desired_hash if applied else "",
        remote_config_status="applied" if applied else "unset",
    )
    return browser.get(reverse("gateways:detail", args=[gateway.pk])).content.decode()


def outside_details(content):
    return re.sub(r"<details.*?</details>", "", content, flags=re.S)


def test_a_formatting_only_difference_is_not_shown_as_a_change(alice_browser, acme_fleet):
    content = detail_with_configs(alice_browser, acme_fleet["gateway"], DESIRED, REFORMATTED)
    assert "Same meaning, different formatting" in content
    assert '<span class="badge valid">as desired</span>' in content
    assert '<td class="del">' not in outside_details(content)  # no red/green outside the folded raw diff
    assert '<details id="config-raw-diff">' in content and '<td class="del">' in content


def test_settings_the_gateway_adds_are_shown_as_additions_only(alice_browser, acme_fleet):
    effective = REFORMATTED + "  telemetry:\n    logs:\n      level: info\n"
    effective = effective.replace("service:\n", "service:\n  telemetry:\n    logs:\n      level: info\n", 1)
    effective = effective.rsplit("  telemetry:", 1)[0]
    content = detail_with_configs(alice_browser, acme_fleet["gateway"], DESIRED, effective)
    assert "plus settings of the gateway's own" in content
    shown = outside_details(content)
    assert '<td class="del">' not in shown
    assert '<td class="add">+  telemetry:</td>' in shown


def test_a_difference_in_meaning_is_shown_without_formatting_noise(alice_browser, acme_fleet):
    effective = REFORMATTED.replace("endpoint: http://sink:4318", "endpoint: http://other:4318")
    content = detail_with_configs(alice_browser, acme_fleet["gateway"], DESIRED, effective)
    assert "applied, differs in meaning" in content
    shown = outside_details(content)
    assert shown.count('<td class="del">') == 1 and shown.count('<td class="add">') == 1
    assert '<td class="add">+    endpoint: http://other:4318</td>' in shown


def test_a_config_not_applied_yet_is_drift_whatever_its_text(alice_browser, acme_fleet):
    content = detail_with_configs(alice_browser, acme_fleet["gateway"], DESIRED, REFORMATTED, applied=False)
    assert "differs from desired" in content and "as desired" not in content


def test_the_admin_shows_the_errors_dated(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    report(gateway, CRASHED, health=supervisor_health(False, "<b>boom</b>", at=CRASHED))
    report(gateway, REPORTED, health=supervisor_health(True, "", at=REPORTED, started=STARTED))
    content = alice_browser.get(reverse("admin:gateways_app_gateway_change", args=[gateway.pk])).content.decode()
    assert (
        "Error at 2026-12-05 09:30:00 UTC (resolved at 2026-12-05 09:31:00 UTC, healthy since 2026-12-05 09:30:40 UTC)"
        " — collector: <code>&lt;b&gt;boom&lt;/b&gt;</code>"
    ) in content
