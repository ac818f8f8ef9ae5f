"""The server `make run` starts: Daphne answering the admin, the API docs and the schema on both ports."""

import urllib.request

import pytest

from tests.live import Daphne, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]


@pytest.fixture
def daphne():
    server = Daphne([free_port(), free_port()])
    yield server
    server.stop()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (local test server)
        return response.status, response.read().decode()


def test_daphne_serves_admin_docs_and_schema_on_both_ports(daphne):
    for port in daphne.ports:
        base = f"http://127.0.0.1:{port}"
        status, body = get(base + "/admin/login/")
        assert status == 200 and "FlowGate administration" in body
        status, body = get(base + "/api/v1/schema/")
        assert status == 200 and "openapi: 3" in body and "/api/v1/organizations/" in body


def test_api_docs_load_their_assets_locally(daphne):
    status, body = get(daphne.url + "/api/v1/docs/")
    assert status == 200
    # Works without internet access: the Swagger UI bundle is served by us, not by a CDN.
    assert "cdn.jsdelivr.net" not in body
    assert get(daphne.url + "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")[0] == 200
