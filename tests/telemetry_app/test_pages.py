"""Throughput on the gateway page and the dashboard: totals, charts, ranges, no-data state, tenancy, query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core_app.models import OrgSettings
from gateways_app.models import Gateway
from telemetry_app.models import Throughput
from tests.pages.conftest import signed_in
from tests.telemetry_app.throughput_data import hour_rows, minute_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def now(monkeypatch):
    """The pages' clock, pinned for the test: a minute (or hour) turning mid-test would move their ranges."""
    from types import SimpleNamespace

    from telemetry_app import pages

    moment = timezone.now()
    monkeypatch.setattr(pages, "timezone", SimpleNamespace(now=lambda: moment))
    return moment


def page(client, gateway, **query):
    response = client.get(reverse("gateways:detail", args=[gateway.pk]), query)
    assert response.status_code == 200
    return response.content.decode()


def section(html, element_id):
    """The HTML from the element's id on; a signal's block ends where the next signal's (or the legend) starts."""
    start = html.index(f'id="{element_id}"')
    if element_id.startswith("throughput-"):
        ends = [html.find(mark, start + 1) for mark in ('class="throughput-signal"', 'class="legend"')]
        return html[start : min(end for end in ends if end > 0)]
    return html[start:]


def test_a_gateway_without_telemetry_says_how_to_turn_it_on(alice, gateway):
    html = page(signed_in(alice), gateway)
    assert 'id="throughput-empty"' in html
    assert "ReportsOwnMetrics" in html
    assert "http://testserver/v1/metrics" in html
    assert '<svg class="chart throughput"' not in html


def test_the_last_hour_of_a_gateway_in_minutes(alice, gateway, now):
    Throughput.objects.bulk_create(
        minute_rows(gateway, now, minutes=60) + minute_rows(gateway, now - timedelta(hours=3))
    )
    html = section(page(signed_in(alice), gateway), "throughput")
    # 60 minutes × 100 logs in, 60 sent (the minutes 3 hours ago are outside the hour).
    logs = section(html, "throughput-logs")
    assert "in <strong>6k</strong>" in logs and "out <strong>3.6k</strong>" in logs
    assert "dropped <strong>2.5k</strong>" in logs  # 60 refused + 60 × 40 not passed on by processors
    assert 'failed <strong class="bad">120</strong>' in logs and "reduction <strong>40.0 %</strong>" in logs
    assert logs.count('<rect class="slot"') == 60  # one column per minute
    assert 'class="line received"' in logs and 'class="line failed"' in logs
    assert "No metrics in this range." in html  # a signal without rows
    assert 'aria-current="true">1 h<' in html


def test_seven_days_read_hour_rows_and_a_quiet_range_is_not_no_data(alice, gateway, now):
    Throughput.objects.bulk_create(hour_rows(gateway, now - timedelta(days=2), hours=24))
    client = signed_in(alice)
    week = section(page(client, gateway, throughput="7d"), "throughput")
    assert "in <strong>144k</strong>" in section(week, "throughput-logs")  # 24 hours × 6,000
    assert section(week, "throughput-logs").count('<rect class="slot"') == 168
    hour = page(client, gateway, throughput="1h")
    assert 'id="throughput-empty"' not in hour and "No logs in this range." in hour
    assert 'aria-current="true">1 h<' in page(client, gateway, throughput="<script>")  # unknown: the default


def test_past_the_minute_retention_the_day_is_hourly(alice, gateway, org, now):
    OrgSettings.objects.filter(organization=org).update(telemetry_minute_retention_hours=2)
    # Hour rows cover every hour (written with the minutes); minute rows only the kept two hours.
    Throughput.objects.bulk_create(hour_rows(gateway, now, hours=24) + minute_rows(gateway, now, minutes=120))
    html = section(page(signed_in(alice), gateway, throughput="24h"), "throughput")
    assert "the points are hourly" in html
    logs = section(html, "throughput-logs")
    # Hours before the kept minutes (about 21 of them, 6,000 each), then the minutes (100 each): no hour twice.
    total = int(logs.split('title="', 1)[1].split('"', 1)[0])
    assert 21 * 6000 <= total <= 23 * 6000 + 120 * 100
    assert total % 100 == 0 and total != 24 * 6000 + 120 * 100


def test_another_organizations_gateway_is_404_and_its_rows_never_count(alice, charlie, gateway, other_org, now):
    theirs = Gateway.objects.create(organization=other_org, name="theirs")
    Throughput.objects.bulk_create(hour_rows(theirs, now) + minute_rows(theirs, now))
    assert signed_in(alice).get(reverse("gateways:detail", args=[theirs.pk])).status_code == 404
    html = signed_in(alice).get(reverse("dashboard:index")).content.decode()
    assert 'id="fleet-throughput-empty"' in html and "theirs" not in html


def fleet(org, count, now):
    gateways = [Gateway.objects.create(organization=org, name=f"edge-{index:02}") for index in range(count)]
    rows = []
    for index, gateway in enumerate(gateways):
        rows += hour_rows(gateway, now, received=1000 * (index + 1), sent=500 * (index + 1))
        rows += minute_rows(gateway, now, minutes=60)
    Throughput.objects.bulk_create(rows)
    return gateways


def test_dashboard_fleet_totals_reduction_and_top_gateways(alice, org, now):
    gateways = fleet(org, 12, now)
    html = section(signed_in(alice).get(reverse("dashboard:index")).content.decode(), "fleet-throughput")
    # 24 hour rows × 2 signals of 1,000 × (1 + … + 12) = 78,000 in, half of it out.
    assert 'title="3744000">3.7M</span><span class="label">Items in' in html
    assert '50.0 %</span><span class="label">Fleet reduction' in html
    top = section(html, "top-gateways")
    names = [gateway.name for gateway in reversed(gateways)][:10]
    assert [top.index(name) for name in names] == sorted(top.index(name) for name in names)  # busiest first
    assert "edge-01" not in top and "edge-00" not in top  # ten only
    assert reverse("gateways:detail", args=[gateways[-1].pk]) + "#throughput" in top
    hour = section(
        signed_in(alice).get(reverse("dashboard:index"), {"throughput": "1h"}).content.decode(), "fleet-throughput"
    )
    assert 'title="144000">144k</span><span class="label">Items in' in hour  # 12 gateways × 2 signals × 60 × 100


def test_names_are_escaped_in_the_top_gateways(alice, org, now):
    gateway = Gateway.objects.create(organization=org, name="<img src=x onerror=alert(1)>")
    Throughput.objects.bulk_create(hour_rows(gateway, now))
    html = signed_in(alice).get(reverse("dashboard:index")).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("name", ["dashboard", "gateway"])
@pytest.mark.parametrize("key", ["1h", "24h", "7d"])
def test_queries_do_not_grow_with_the_fleet(alice, org, name, key, now):
    """The same number of queries for 2 gateways as for 40, each with a day of hours and an hour of minutes."""
    client = signed_in(alice)

    def count():
        url = reverse("dashboard:index") if name == "dashboard" else reverse("gateways:detail", args=[first.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"throughput": key}).status_code == 200
        return len(queries)

    first = fleet(org, 2, now)[0]
    small = count()
    more = [Gateway.objects.create(organization=org, name=f"more-{index}") for index in range(38)]
    Throughput.objects.bulk_create(
        [row for gateway in more for row in hour_rows(gateway, now) + minute_rows(gateway, now)]
    )
    assert count() == small


def test_an_hour_of_collector_reports_shows_what_was_sent(alice, gateway, now):
    """Reports in the real collector's shape, ingested minute by minute: the page's totals are exactly theirs."""
    from telemetry_app.charts import compact
    from tests.telemetry_app.throughput_data import replay_captured

    sent = replay_captured(gateway, now=now)
    logs = section(page(signed_in(alice), gateway, throughput="24h"), "throughput-logs")
    assert f'<span title="{sent["received"]}">in <strong>{compact(sent["received"])}</strong>' in logs
    assert f'<span title="{sent["sent"]}">out <strong>{compact(sent["sent"])}</strong>' in logs
    assert f"dropped <strong>{compact(sent['dropped'])}</strong>" in logs
    assert f'<span title="{sent["failed"]}">failed <strong class="bad">' in logs
