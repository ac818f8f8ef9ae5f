import pytest

from gateways_app import services


@pytest.fixture
def registration(org, alice):
    """A single-use registration token of acme: (row, jwt)."""
    return services.create_registration_token(org, name="bootstrap", created_by=alice)


@pytest.fixture
def enroll_client(client):
    """POSTs to the enrollment endpoint with a bearer token, like a gateway would."""

    def post(token, body=None, path="/api/v1/gateways/register"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.post(path, body if body is not None else {"name": "gw-new"}, "application/json", headers=headers)

    return post
