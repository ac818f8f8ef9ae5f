"""Fail fast, with a clear message, when the PostgreSQL or Redis named in the environment is unreachable.

The test suite must never skip what needs them: it stops here instead.
"""

import os
import sys
import time

import psycopg
import redis


def reachable(check, attempts=10):
    for attempt in range(attempts):
        try:
            check()
            return None
        except Exception as exc:  # noqa: BLE001  (any failure means "not yet")
            error = exc
            time.sleep(min(0.5 * (attempt + 1), 2))
    return error


def main():
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    failures = []
    if database_url:
        # Connect to the maintenance database: the test run creates its own.
        dsn = database_url.rsplit("/", 1)[0] + "/postgres"
        error = reachable(lambda: psycopg.connect(dsn, connect_timeout=3).close())
        if error:
            failures.append(f"PostgreSQL at {dsn} is unreachable: {error}")
    if redis_url:
        error = reachable(lambda: redis.Redis.from_url(redis_url, socket_timeout=3).ping())
        if error:
            failures.append(f"Redis at {redis_url} is unreachable: {error}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
