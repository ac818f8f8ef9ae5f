"""Health from metrics where people look: the gateway page, the list (filterable), the dashboard, the API, admin.

The gateways are degraded the way production does it: a collector's reports through rollups.ingest().
"""

import re

import pytest
from django.urls import reverse

from gateways_app.models import Gateway, GatewayStatus
from telemetry_app import otlp, rollups
from tests.telemetry_app.test_health import Collector, at

pytestmark = pytest.mark.django_db

FAILING = {"accepted": 50, "failed": 50}
REASON = "exporter otlphttp failing: 200 of 200 log records failed since 12:00 UTC"


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def degrade(gateway):
    """Two minutes of an exporter failing every batch, judged: the gateway's own metrics degrade it."""
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE)
    collector = Collector(gateway)
    collector.minutes(0, 1, **FAILING)
    return collector.report(at(2, 10), **FAILING)


@pytest.fixture
def degraded(gateway):
    return degrade(gateway)


@pytest.fixture
def healthy(org):
    return Gateway.objects.create(organization=org, name="gw-healthy", status=GatewayStatus.ONLINE)


def test_the_gateway_page_says_degraded_with_the_source_the_reason_and_since_when(alice_browser, degraded):
    html = alice_browser.get(reverse("gateways:detail", args=[degraded.pk])).content.decode()
    assert '<span class="badge degraded">Degraded</span>' in html
    reasons = text_of(html.split('id="degraded-reasons"')[1].split("</div>")[0])
    assert f"metrics {REASON} since 2026-12-05 12:00 UTC" in reasons
    history = text_of(html.split('id="error-history"')[1].split("</ol>")[0])
    assert "open" in history and "from metrics, exporter/otlphttp, at 2026-12-05 12:00:00 UTC" in history


def test_the_list_shows_the_reason_and_filters_by_the_shown_status(alice_browser, degraded, healthy):
    url = reverse("gateways:list")
    html = alice_browser.get(url, {"status": "degraded"}).content.decode()
    assert degraded.name in html and healthy.name not in html
    assert f"metrics: {REASON}" in text_of(html)
    html = alice_browser.get(url, {"status": "online"}).content.decode()
    assert healthy.name in html and degraded.name not in html


def test_the_dashboard_counts_it_degraded_and_lists_why(alice_browser, degraded, healthy):
    html = alice_browser.get(reverse("dashboard:index")).content.decode()
    stats = text_of(html.split('id="fleet-stats"')[1].split("</div>\n")[0])
    assert "1 Online" in stats and "1 Degraded" in stats
    card = text_of(html.split('id="degraded-gateways"')[1].split("</table>")[0])
    assert f"{degraded.name} metrics {REASON}" in card and healthy.name not in card


def test_the_api_shows_the_shown_status_the_opamp_status_and_the_reason(api_client, degraded, healthy):
    rows = api_client.get("/api/v1/gateways/", {"status": "degraded"}).json()["results"]
    assert [row["name"] for row in rows] == [degraded.name]
    assert rows[0]["status"] == "degraded" and rows[0]["opamp_status"] == "online"
    assert rows[0]["metrics_problem"] == REASON and rows[0]["metrics_degraded_since"] == "2026-12-05T12:00:00Z"
    detail = api_client.get(f"/api/v1/gateways/{degraded.pk}/").json()
    assert [entry["message"] for entry in detail["metrics_errors"]] == [REASON]


def test_another_orgs_degraded_gateway_is_neither_shown_nor_counted(charlie_browser, degraded):
    assert charlie_browser.get(reverse("gateways:detail", args=[degraded.pk])).status_code == 404
    html = charlie_browser.get(reverse("gateways:list"), {"status": "degraded"}).content.decode()
    assert degraded.name not in html
    html = charlie_browser.get(reverse("dashboard:index")).content.decode()
    assert REASON not in html and "No gateway is degraded." in html


def test_a_component_name_from_the_collector_is_escaped(alice_browser, gateway):
    """The component name is the collector's attribute: untrusted text."""
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE)
    collector = Collector(gateway)
    for minute in range(3):
        request = collector.request(at(minute, 10), **FAILING)
        for metric in request.resource_metrics[0].scope_metrics[0].metrics:
            for point in metric.sum.data_points:
                for attribute in point.attributes:
                    if attribute.key == "exporter":
                        attribute.value.string_value = "<img src=x onerror=alert(1)>"
        rollups.ingest(gateway, otlp.points(request), minute_retention_hours=48, now=at(minute, 10))
    gateway.refresh_from_db()
    assert gateway.shown_status == GatewayStatus.DEGRADED
    for url in (reverse("gateways:detail", args=[gateway.pk]), reverse("gateways:list"), reverse("dashboard:index")):
        html = alice_browser.get(url).content.decode()
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_admin_shows_the_shown_status_and_filters_by_it(alice_browser, degraded, healthy):
    url = reverse("admin:gateways_app_gateway_changelist")
    html = alice_browser.get(url, {"shown_status": "degraded"}).content.decode()
    assert degraded.name in html and healthy.name not in html
    html = alice_browser.get(reverse("admin:gateways_app_gateway_change", args=[degraded.pk])).content.decode()
    assert REASON in html
