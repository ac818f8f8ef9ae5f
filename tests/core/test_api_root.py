"""GET /api/v1/: the API's index (flowgate_site/api_root.py). It answered 404; the README sends people there."""

import pytest
from django.test import Client

from flowgate_site.api_root import ENTRIES


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1"])
def test_the_index_links_every_collection(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 200
    links = response.json()
    assert list(links) == [key for key, _name, _text in ENTRIES]
    assert links["gateways"] == "http://testserver/api/v1/gateways/"
    assert links["docs"] == "http://testserver/api/v1/docs/"


def test_every_link_of_the_index_answers(api_client):
    for key, url in api_client.get("/api/v1/").json().items():
        status = api_client.get(url).status_code
        # validation and gateways-register take POST only: 405 proves the route exists.
        assert status == (405 if key in ("validation", "gateways-register") else 200), (key, url, status)


@pytest.mark.django_db
def test_a_stranger_gets_no_index():
    response = Client().get("/api/v1/")
    assert response.status_code in (401, 403)
    assert "gateways" not in response.content.decode()


def test_the_index_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()
    assert schema["paths"]["/api/v1/"]["get"]["operationId"] == "api_root"
