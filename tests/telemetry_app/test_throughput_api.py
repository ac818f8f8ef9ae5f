"""GET /api/v1/gateways/{id}/throughput/ and /api/v1/throughput/: series, CSV, validation, tenancy, roles, schema."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core_app.roles import Role
from core_app.services import set_membership
from gateways_app.models import Gateway
from telemetry_app.models import Throughput
from tests.conftest import client_for
from tests.telemetry_app.throughput_data import hour_rows, minute_rows

pytestmark = pytest.mark.django_db


def url(gateway=None):
    return f"/api/v1/gateways/{gateway.pk}/throughput/" if gateway else "/api/v1/throughput/"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def now(monkeypatch):
    """The API's clock, pinned for the test (a minute turning mid-test would move the default range)."""
    from types import SimpleNamespace

    from telemetry_app.api import views

    moment = timezone.now().replace(second=0, microsecond=0)
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: moment))
    return moment


@pytest.fixture
def rows(gateway, now):
    Throughput.objects.bulk_create(minute_rows(gateway, now, minutes=30) + hour_rows(gateway, now, hours=72))


def test_a_gateways_minutes(api_client, gateway, rows, now):
    start = now - timedelta(minutes=9)
    query = {"from": iso(start), "to": iso(now + timedelta(minutes=1)), "step": "1m", "signal": "logs"}
    response = api_client.get(url(gateway), query)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["gateway"] == str(gateway.pk) and data["organization"] == "acme" and data["step"] == 60
    assert data["hourly_before"] is None
    (logs,) = data["series"]
    assert logs["signal"] == "logs" and len(logs["points"]) == 10
    assert logs["points"][0] == {
        "time": iso(start),
        "received": 100,
        "refused": 1,
        "dropped": 40,
        "dropped_total": 41,
        "sent": 60,
        "failed": 2,
    }
    assert logs["totals"]["received"] == 1000 and logs["totals"]["sent"] == 600


def test_steps_group_slots_and_the_default_is_a_day_of_every_signal(api_client, gateway, rows, now):
    response = api_client.get(url(gateway), {"from": iso(now - timedelta(minutes=29)), "step": "600"})
    points = response.json()["series"][0]["points"]
    assert [point["received"] for point in points] == [1000, 1000, 1000]  # 30 minutes in slots of 10
    day = api_client.get(url(gateway)).json()
    assert [one["signal"] for one in day["series"]] == ["logs", "metrics", "traces"]
    assert day["step"] == 300 and len(day["series"][0]["points"]) == 288  # 24 h: the smallest step with ≤ 500 slots


def test_hourly_steps_read_hour_rows_only(api_client, gateway, rows, now):
    hour = now.replace(minute=0)
    response = api_client.get(
        url(gateway), {"from": iso(hour - timedelta(hours=47)), "to": iso(hour + timedelta(hours=1)), "step": "1h"}
    )
    logs = response.json()["series"][0]
    assert len(logs["points"]) == 48 and {point["received"] for point in logs["points"]} == {6000}


def test_the_organizations_series_adds_up_its_gateways_only(api_client, org, other_org, gateway, now):
    second = Gateway.objects.create(organization=org, name="gw-2")
    foreign = Gateway.objects.create(organization=other_org, name="theirs")
    Throughput.objects.bulk_create(
        minute_rows(gateway, now, minutes=5) + minute_rows(second, now, minutes=5) + minute_rows(foreign, now)
    )
    query = {"from": iso(now - timedelta(minutes=4)), "to": iso(now + timedelta(minutes=1)), "step": "5m"}
    data = api_client.get(url(), query).json()
    assert data["gateway"] is None and data["organization"] == "acme"
    assert data["series"][0]["points"][0]["received"] == 1000  # 2 gateways × 5 minutes × 100


def test_csv_by_format_or_accept(api_client, gateway, rows, now):
    query = {"from": iso(now - timedelta(minutes=2)), "to": iso(now + timedelta(minutes=1)), "step": "60"}
    for response in (
        api_client.get(url(gateway), {**query, "format": "csv"}),
        api_client.get(url(gateway), query, HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="throughput-gw-1-')
        table = list(csv.reader(io.StringIO(response.content.decode())))
        assert table[0] == ["time", "signal", "received", "refused", "dropped", "dropped_total", "sent", "failed"]
        assert len(table) == 1 + 3 * 3  # 3 minutes × 3 signals
        assert table[1][1:] == ["logs", "100", "1", "40", "41", "60", "2"]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"step": "7s"}, "step"),
        ({"step": "abc"}, "step"),
        ({"step": "0"}, "step"),
        ({"step": "1m", "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "step"),  # 84,960 slots
        ({"from": "2026-12-05T12:00:00Z", "to": "2026-12-05T11:00:00Z"}, "from"),
        ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"signal": "smells"}, "signal"),
        ({"sginal": "logs"}, "sginal"),
    ],
)
def test_wrong_parameters_are_400_naming_them_even_for_csv(api_client, gateway, query, field):
    for extra in ({}, {"format": "csv"}):
        response = api_client.get(url(gateway), {**query, **extra})
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/json"
        assert field in response.json()


def test_a_repeated_parameter_is_refused(api_client, gateway):
    response = api_client.get(f"{url(gateway)}?signal=logs&signal=traces")
    assert response.status_code == 400 and "signal" in response.json()


def test_another_organizations_gateway_is_404(charlie_client, gateway, rows):
    assert charlie_client.get(url(gateway)).status_code == 404
    assert charlie_client.get(url(), {"organization": "acme"}).status_code == 404


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
def test_viewers_read_and_anonymous_callers_do_not(bob_client, gateway, rows):
    assert bob_client.get(url(gateway)).status_code == 200
    assert bob_client.get(url()).status_code == 200
    assert APIClient().get(url(gateway)).status_code in (401, 403)
    assert bob_client.post(url(gateway), {}).status_code == 405


def test_a_member_of_several_organizations_names_one(alice, other_org, gateway, rows):
    set_membership(other_org, alice, Role.VIEWER)
    client = client_for(alice)
    response = client.get(url())
    assert response.status_code == 400 and "organization" in response.json()
    assert client.get(url(), {"organization": "globex"}).json()["organization"] == "globex"
    assert client.get(url(), {"organization": "nope"}).status_code == 404


def test_queries_are_bounded(api_client, org, gateway, rows, now):
    def count(path, query):
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get(path, query).status_code == 200
        return len(queries)

    minutes = {"from": iso(now - timedelta(hours=2)), "step": "5m"}
    before = (count(url(gateway), minutes), count(url(), minutes), count(url(), {"step": "1h"}))
    more = [Gateway.objects.create(organization=org, name=f"gw-more-{index}") for index in range(20)]
    Throughput.objects.bulk_create([row for one in more for row in minute_rows(one, now) + hour_rows(one, now)])
    after = (count(url(gateway), minutes), count(url(), minutes), count(url(), {"step": "1h"}))
    assert before == after
    assert max(after) <= 6  # user, memberships (org), the gateway, the retention setting, the series


def test_the_schema_has_both_routes_and_csv(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    gateway = schema["paths"]["/api/v1/gateways/{id}/throughput/"]["get"]
    assert {"signal", "from", "to", "step", "format"} <= {p["name"] for p in gateway["parameters"]}
    assert {"application/json", "text/csv"} <= set(gateway["responses"]["200"]["content"])
    assert "organization" in {p["name"] for p in schema["paths"]["/api/v1/throughput/"]["get"]["parameters"]}


def test_naive_times_are_utc_and_the_range_starts_on_a_minute(api_client, gateway):
    response = api_client.get(url(gateway), {"from": "2026-12-05T10:00:30", "to": "2026-12-05T10:05:00", "step": "1m"})
    assert response.status_code == 200
    data = response.json()
    assert datetime.fromisoformat(data["from"]) == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert len(data["series"][0]["points"]) == 5
