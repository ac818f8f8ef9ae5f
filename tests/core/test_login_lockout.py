"""Sign-in throttling on /login/ and /admin/login/ (django-axes plus a per-client limit, docs/security.md).

Each test signs in from an address of its own: Axes' username+address counters live in the shared
cache, and must not meet another test's (or another run's) failures.
"""

import uuid

import pytest

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LOGIN_PATHS = ["/login/", "/admin/login/"]


@pytest.fixture
def address():
    """A client address no other test uses (10.x.y.z from a random uuid)."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


@pytest.fixture
def dave():
    return make_user(f"dave-{uuid.uuid4().hex[:8]}", is_staff=True)


def sign_in(client, path, username, password, address, **extra):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_it_locks_a_username_and_address_after_five_failures(client, dave, address, path):
    answers = [sign_in(client, path, dave.username, "wrong", address).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    # Locked: even the right password is refused now.
    locked = sign_in(client, path, dave.username, "s3cret-pass-123", address)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "Too many failed sign-ins" in locked.content.decode()


def test_the_lockout_holds_on_the_other_login_page_too(client, dave, address):
    for _ in range(5):
        sign_in(client, "/login/", dave.username, "wrong", address)
    assert sign_in(client, "/admin/login/", dave.username, "s3cret-pass-123", address).status_code == 429


def test_another_address_may_still_sign_in_as_that_user(client, dave, address):
    for _ in range(5):
        sign_in(client, "/login/", dave.username, "wrong", address)
    response = sign_in(client, "/login/", dave.username, "s3cret-pass-123", "192.0.2.77")
    assert response.status_code == 302


def test_a_success_resets_the_count(client, dave, address):
    for _ in range(4):
        sign_in(client, "/login/", dave.username, "wrong", address)
    assert sign_in(client, "/login/", dave.username, "s3cret-pass-123", address).status_code == 302
    client.logout()
    answers = [sign_in(client, "/login/", dave.username, "wrong", address).status_code for _ in range(4)]
    assert answers == [200] * 4


def test_one_address_trying_many_usernames_is_stopped(client, address, settings):
    settings.FLOWGATE_LOGIN_CLIENT_FAILURE_RATE = "6/15m"
    answers = [sign_in(client, "/login/", f"nobody-{n}", "wrong", address).status_code for n in range(7)]
    assert answers == [200] * 5 + [429, 429]
    locked = sign_in(client, "/login/", "someone-else", "wrong", address)
    assert locked.status_code == 429 and 0 < int(locked["Retry-After"]) <= 900


def test_behind_a_proxy_the_forwarded_address_is_the_client(client, dave, address, settings):
    settings.FLOWGATE_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.FLOWGATE_TRUSTED_PROXY_COUNT = 1
    proxy = "172.16.0.1"
    for _ in range(5):
        # The first entry is whatever the client wrote; the proxy appended the address it saw.
        sign_in(client, "/login/", dave.username, "wrong", proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {address}")
    other_client = sign_in(client, "/login/", dave.username, "s3cret-pass-123", proxy, HTTP_X_FORWARDED_FOR="9.9.9.9")
    assert other_client.status_code == 302
    client.logout()
    same = sign_in(
        client, "/login/", dave.username, "s3cret-pass-123", proxy, HTTP_X_FORWARDED_FOR=f"5.6.7.8, {address}"
    )
    assert same.status_code == 429
