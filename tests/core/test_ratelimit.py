"""The counters and the client address behind every rate limit (core_app/ratelimit.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core_app import ratelimit
from core_app.ratelimit import Rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [("60/m", Rate(60, 60)), ("30/15m", Rate(30, 900)), ("6000/minute", Rate(6000, 60)), ("5/2h", Rate(5, 7200))],
)
def test_it_reads_rates(text, rate):
    assert ratelimit.parse_rate(text) == rate


def test_off_is_no_limit_and_nonsense_is_refused():
    assert ratelimit.parse_rate("off") is None
    with pytest.raises(ImproperlyConfigured, match="invalid rate"):
        ratelimit.parse_rate("lots")


def test_a_window_allows_its_count_then_says_how_long_to_wait():
    rate = Rate(2, 60)
    verdicts = [ratelimit.hit("t", "10.9.9.9", rate, now=1000.0) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].retry_after == 20  # the window is [960, 1020)
    # The next window starts from zero.
    assert ratelimit.hit("t", "10.9.9.9", rate, now=1020.0).allowed


def test_a_failing_cache_lets_requests_through(monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit.cache, "incr", broken)
    monkeypatch.setattr(ratelimit.cache, "add", broken)
    assert ratelimit.hit("t", "10.9.9.8", Rate(1, 60)).allowed


@pytest.mark.parametrize(
    ("forwarded", "count", "client"),
    [
        ("203.0.113.5", 1, "203.0.113.5"),
        ("6.6.6.6, 203.0.113.5", 1, "203.0.113.5"),  # the forged entry is left of the proxy's
        ("6.6.6.6, 203.0.113.5, 10.0.0.2", 2, "203.0.113.5"),
        ("203.0.113.5", 2, "192.0.2.1"),  # fewer entries than proxies: not through all of them
        ("not-an-address", 1, "192.0.2.1"),
        ("", 1, "192.0.2.1"),
    ],
)
def test_behind_proxies_the_client_is_counted_from_the_right(settings, forwarded, count, client):
    settings.FLOWGATE_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.FLOWGATE_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_address(request) == client
    scope = {"client": ("192.0.2.1", 5000), "headers": [(b"x-forwarded-for", forwarded.encode())]}
    assert ratelimit.scope_address(scope) == client


def test_without_the_setting_the_header_is_ignored(settings):
    settings.FLOWGATE_CLIENT_IP_HEADER = ""
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert ratelimit.client_address(request) == "192.0.2.1"
