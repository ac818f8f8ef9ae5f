"""Exponential backoff with jitter for reconnects, enrollment retries and collector restarts.

The n-th consecutive failure waits a random time in [d/2, d] where d = min(maximum,
initial * multiplier**n) ("equal jitter": never less than half the step, so a fleet that
failed together spreads out without any member retrying at once). A server's Retry-After
(HTTP header or OpAMP RetryInfo) replaces the computed step: the wait is then in
[retry_after, retry_after * 1.1], never shorter than what the server asked for.
"""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_AFTER_JITTER = 0.1


class Backoff:
    """Delays for consecutive failures; `reset()` after a success."""

    def __init__(self, initial=1.0, maximum=60.0, multiplier=2.0, rng=None):
        if initial <= 0 or maximum < initial or multiplier < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and multiplier >= 1")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.failures = 0
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)

    def step(self) -> float:
        """The un-jittered ceiling of the next delay."""
        return min(self.maximum, self.initial * self.multiplier**self.failures)

    def next_delay(self, retry_after: float | None = None) -> float:
        """Record one more failure and return how long to wait before the next attempt."""
        if retry_after is not None and retry_after > 0:
            self.failures += 1
            return retry_after * (1 + self.rng.uniform(0, RETRY_AFTER_JITTER))
        ceiling = self.step()
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
