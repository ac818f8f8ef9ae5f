"""Rate limits of the API (docs/security.md): per user, per anonymous client, and per client for failed tokens."""

import secrets

import pytest

from core_app.services import API_TOKEN_PREFIX, create_api_token

pytestmark = pytest.mark.django_db


def token_header(plaintext):
    return {"HTTP_AUTHORIZATION": f"Token {plaintext}"}


def test_a_user_over_the_rate_gets_429_with_retry_after(api_client, settings):
    settings.FLOWGATE_API_USER_RATE = "3/m"
    answers = [api_client.get("/api/v1/gateways/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = api_client.get("/api/v1/gateways/")
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_each_user_has_a_rate_of_their_own(api_client, charlie_client, settings):
    settings.FLOWGATE_API_USER_RATE = "2/m"
    for _ in range(3):
        api_client.get("/api/v1/gateways/")
    assert charlie_client.get("/api/v1/gateways/").status_code == 200


def test_anonymous_clients_are_limited_per_address(client, settings):
    settings.FLOWGATE_API_ANON_RATE = "1/m"
    assert client.get("/api/v1/schema/", REMOTE_ADDR="10.1.1.1").status_code == 200
    limited = client.get("/api/v1/schema/", REMOTE_ADDR="10.1.1.1")
    assert limited.status_code == 429 and "Retry-After" in limited
    assert client.get("/api/v1/schema/", REMOTE_ADDR="10.1.1.2").status_code == 200


def test_random_tokens_from_one_address_get_429(client, alice, settings):
    settings.FLOWGATE_API_TOKEN_FAILURE_RATE = "5/m"
    guesses = [API_TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in range(7)]
    answers = [client.get("/api/v1/gateways/", **token_header(guess)).status_code for guess in guesses]
    assert answers == [401] * 5 + [429, 429]
    # The address is refused before any lookup, even with a real token, until the window ends.
    _, real = create_api_token(alice)
    refused = client.get("/api/v1/gateways/", **token_header(real))
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60


def test_failed_tokens_of_one_address_do_not_limit_another(client, alice, settings):
    settings.FLOWGATE_API_TOKEN_FAILURE_RATE = "2/m"
    for _ in range(3):
        client.get("/api/v1/gateways/", REMOTE_ADDR="10.2.2.2", **token_header(API_TOKEN_PREFIX + "nope"))
    _, real = create_api_token(alice)
    assert client.get("/api/v1/gateways/", REMOTE_ADDR="10.2.2.3", **token_header(real)).status_code == 200


def test_valid_tokens_do_not_count_as_failures(client, alice, settings):
    settings.FLOWGATE_API_TOKEN_FAILURE_RATE = "2/m"
    _, real = create_api_token(alice)
    answers = [client.get("/api/v1/gateways/", **token_header(real)).status_code for _ in range(4)]
    assert answers == [200] * 4
