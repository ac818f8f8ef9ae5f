"""One gateway's very large report does not weigh on lists: GET /api/v1/gateways/ and the gateway
list page neither load nor send effective configs, health trees, descriptions or component lists
(the detail keeps them)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gateways_app.models import Gateway

HEAVY_COLUMNS = (
    "effective_config",
    "health",
    "health_errors",
    "agent_description",
    "available_components",
    "remote_config_error",
)
BIG = 3 * 1024 * 1024


@pytest.fixture
def heavy_gateway(org):
    components = {f"pipeline:{index}": {"healthy": True, "status": "x" * 40} for index in range(40_000)}
    return Gateway.objects.create(
        organization=org,
        name="heavy",
        effective_config="receivers: {}\n# " + "x" * BIG + "\n",
        health={"healthy": True, "component_health_map": components},
        remote_config_error="e" * BIG,
        health_errors=[{"source": "health", "component": "collector", "message": "e" * BIG, "at": None}],
    )


def selected_columns(queries):
    """The gateway table's columns named in the SELECTs of `queries`."""
    gateway_selects = [
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and "gateways_app_gateway" in q["sql"]
    ]
    return {
        column for column in HEAVY_COLUMNS for sql in gateway_selects if f'"gateways_app_gateway"."{column}"' in sql
    }


def test_the_api_list_stays_small_and_loads_no_report(api_client, heavy_gateway):
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get("/api/v1/gateways/")
    assert response.status_code == 200
    assert len(response.content) < 10_000, len(response.content)
    assert selected_columns(captured.captured_queries) == set()
    [row] = response.json()["results"]
    assert row["name"] == "heavy" and "effective_config" not in row and "health" not in row


def test_the_api_detail_still_carries_the_report(api_client, heavy_gateway):
    body = api_client.get(f"/api/v1/gateways/{heavy_gateway.pk}/").json()
    assert len(body["effective_config"]) > BIG and len(body["health"]["component_health_map"]) == 40_000


def test_the_list_page_stays_small_and_loads_no_report(alice, heavy_gateway):
    client = Client()
    client.force_login(alice)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("gateways:list"))
    assert response.status_code == 200 and b"heavy" in response.content
    assert len(response.content) < 100_000
    assert selected_columns(captured.captured_queries) == set()
