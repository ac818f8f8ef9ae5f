"""Enrollment is rate-limited per client address (docs/security.md)."""

import pytest

pytestmark = pytest.mark.django_db


def test_one_address_over_the_enrollment_rate_gets_429(enroll_client, settings):
    settings.FLOWGATE_ENROLLMENT_RATE = "3/m"
    answers = [enroll_client("not-a-token").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


def test_the_refusal_says_when_to_retry(enroll_client, registration, settings):
    settings.FLOWGATE_ENROLLMENT_RATE = "1/m"
    enroll_client("not-a-token")
    # Even a good token waits: the limit counts requests, whatever their token.
    response = enroll_client(registration[1])
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


def test_other_addresses_still_enroll(client, registration, settings):
    settings.FLOWGATE_ENROLLMENT_RATE = "1/m"
    client.post("/api/v1/gateways/register", {}, "application/json", REMOTE_ADDR="10.3.3.3")
    response = client.post(
        "/api/v1/gateways/register",
        {"name": "gw-x"},
        "application/json",
        REMOTE_ADDR="10.3.3.4",
        HTTP_AUTHORIZATION=f"Bearer {registration[1]}",
    )
    assert response.status_code == 201
