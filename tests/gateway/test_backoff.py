"""Exponential backoff with jitter, and Retry-After."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from gateway.backoff import Backoff, parse_retry_after


def test_delays_grow_exponentially_within_their_jitter_bounds():
    backoff = Backoff(initial=1, maximum=60, rng=random.Random(7))
    for ceiling in (1, 2, 4, 8, 16, 32):
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_delays_never_exceed_the_maximum():
    backoff = Backoff(initial=1, maximum=10, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(20)]
    assert max(delays) <= 10
    assert min(delays[-5:]) >= 5  # capped steps still jitter only in [max/2, max]


def test_jitter_spreads_agents_that_failed_together():
    delays = {Backoff(initial=4, maximum=60, rng=random.Random(seed)).next_delay() for seed in range(20)}
    assert len(delays) == 20


def test_reset_starts_over_after_a_success():
    backoff = Backoff(initial=1, maximum=60, rng=random.Random(3))
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_retry_after_is_honoured_and_never_shortened():
    backoff = Backoff(initial=1, maximum=5, rng=random.Random(2))
    delay = backoff.next_delay(retry_after=30)
    assert 30 <= delay <= 33  # at most 10 % jitter on top, even above the maximum


def test_retry_after_header_in_seconds_or_as_a_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=45), usegmt=True), now=now) == 45


def test_a_missing_or_unreadable_retry_after_is_ignored():
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
