"""List pages and the dashboard cost a fixed number of queries, whatever the number of rows (no N+1)."""

import sys
from pathlib import Path

import pytest
from django.urls import reverse

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import pages_data  # noqa: E402

pytestmark = pytest.mark.django_db

# Session, user and memberships (3), then each page's own queries: the same with 60 rows as with 6.
PAGES = {
    # dashboard: +2 fleet throughput (its series, then the busiest gateways or the no-data check), +1 degraded gateways
    "dashboard:index": 12,
    "templates:list": 8,
    "deployments:list": 5,
    "gateways:list": 6,
    "gateways:tokens": 4,
    "core:audit-log": 5,
}
# gateways:detail: +3 for its throughput section (retention setting, series, no-data check; telemetry_app/pages.py).
DETAIL_PAGES = {"templates:detail": 8, "gateways:detail": 11, "deployments:detail": 10}


@pytest.fixture
def big_fleet(org, alice):
    return pages_data.seed(org, alice, gateways=60, templates=12)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_list_pages_do_not_query_per_row(name, alice_browser, big_fleet, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGES[name]):
        response = alice_browser.get(reverse(name))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "name,key",
    [("templates:detail", "templates"), ("gateways:detail", "gateways"), ("deployments:detail", "deployments")],
)
def test_detail_pages_do_not_query_per_row(name, key, alice_browser, big_fleet, django_assert_max_num_queries):
    # The deployment has 40 targets over 5 batches, the gateway 5 deployments, the template 3 versions.
    with django_assert_max_num_queries(DETAIL_PAGES[name]):
        response = alice_browser.get(reverse(name, args=[big_fleet[key][-1].pk]))
    assert response.status_code == 200
