"""The optional prices per million items (issue 14): non-negative decimals, the same rule in the form and the API."""

from decimal import Decimal

import pytest
from django.urls import reverse

from core_app.models import AuditLog, OrgSettings
from tests.pages.conftest import signed_in
from tests.pages.test_settings_components import settings_data

pytestmark = pytest.mark.django_db


def prices(org):
    row = OrgSettings.objects.get(organization=org)
    return row.price_per_million_log_records, row.price_per_million_metric_points, row.price_per_million_spans


def test_prices_are_empty_until_set_and_set_through_the_api(api_client, org):
    assert api_client.get("/api/v1/settings/acme/").json()["price_per_million_log_records"] is None
    response = api_client.patch("/api/v1/settings/acme/", {"price_per_million_log_records": "0.25"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["price_per_million_log_records"] == "0.2500"
    assert prices(org) == (Decimal("0.25"), None, None)
    cleared = api_client.patch("/api/v1/settings/acme/", {"price_per_million_log_records": None}, format="json")
    assert cleared.status_code == 200 and prices(org) == (None, None, None)


@pytest.mark.parametrize("value", ["-1", "abc", "123456789.12345"])
def test_the_api_refuses_a_negative_or_malformed_price(api_client, org, value):
    response = api_client.patch("/api/v1/settings/acme/", {"price_per_million_spans": value}, format="json")
    assert response.status_code == 400
    assert "price_per_million_spans" in response.json()
    assert prices(org) == (None, None, None)


def test_the_settings_form_saves_prices_and_explains_a_negative_one(alice, org):
    browser = signed_in(alice)
    url = reverse("core:settings")
    page = browser.get(url).content.decode()
    assert "Savings estimate" in page and 'name="price_per_million_metric_points"' in page
    refused = browser.post(url, settings_data(browser, url, price_per_million_metric_points="-0.5"))
    assert refused.status_code == 200
    assert "greater than or equal to 0" in refused.content.decode()
    assert prices(org) == (None, None, None)
    saved = browser.post(url, settings_data(browser, url, price_per_million_metric_points="1.75"))
    assert saved.status_code == 302
    assert prices(org) == (None, Decimal("1.75"), None)
    entry = AuditLog.objects.get(action="settings.updated")
    assert entry.changes == {"price_per_million_metric_points": {"from": None, "to": "1.75"}}
