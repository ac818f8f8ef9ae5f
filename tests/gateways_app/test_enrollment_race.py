import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from gateways_app import services
from gateways_app.models import Gateway, OpAMPToken, RegistrationToken
from tests import live

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql(db):
    """A true race needs PostgreSQL row locks: skipped locally without PostgreSQL, failed in CI (tests/live.py)."""
    live.test_database_url()


RACERS = 20


def race(raw, names):
    """POST an enrollment per name from its own thread (and database connection), all at once."""
    barrier = threading.Barrier(len(names))
    answers = []

    def run(name):
        try:
            barrier.wait()
            response = Client().post(
                "/api/v1/gateways/register",
                {"name": name},
                "application/json",
                headers={"Authorization": f"Bearer {raw}"},
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_racing_enrollments_on_a_single_use_token_create_one_gateway(org, alice):
    row, raw = services.create_registration_token(org, name="once", created_by=alice)
    answers = race(raw, [f"gw-{i}" for i in range(RACERS)])
    assert Counter(code for code, _ in answers) == {201: 1, 401: RACERS - 1}
    assert {body["detail"] for code, body in answers if code == 401} == {"token used up"}
    assert Gateway.objects.count() == 1 and OpAMPToken.objects.count() == 1
    assert RegistrationToken.objects.get(pk=row.pk).uses == 1


def test_racing_enrollments_of_one_name_end_with_one_gateway(org, alice):
    # A token for everyone: the gateway row itself is what they fight over.
    _, raw = services.create_registration_token(org, name="many", created_by=alice, max_uses=RACERS)
    answers = race(raw, ["same-name"] * 10)
    assert {code for code, _ in answers} <= {201, 409}
    assert Gateway.objects.filter(name="same-name").count() == 1
    # The first wins; the others find its name taken (409: the token does not allow re-enrollment).
    assert OpAMPToken.objects.filter(revoked_at__isnull=True).count() == 1
