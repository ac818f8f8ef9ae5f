"""flowgate_site.settings plus the channel-layer settings the benchmark found missing (docs/benchmarks.md).

Used by `LAYER_FIX=1 bash bench/run_opamp_bench.sh` to measure the server as it behaves once
these land in flowgate_site/settings.py. Each value fixes a failure seen under load with
redis-py 8.1 and channels-redis 4.3:

- socket_timeout above channels-redis' 5 s BZPOPMIN: redis-py's default read timeout is also
  5 s, so an idle layer's receive loop times out and kills the consumer running it (close 1011);
- max_connections: redis-py's asyncio pool now defaults to 100 and raises instead of waiting,
  so a burst of group_add calls (agents reconnecting) kills consumers;
- capacity: all consumers of one server process share one Redis key, and group_send drops a
  message (logging at INFO only) once 100 are waiting there, so a push to more than ~100
  gateways of one process loses pushes.
"""

from flowgate_site.settings import *  # noqa: F403

if REDIS_URL:  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [  # noqa: F405
        {"address": REDIS_URL, "socket_timeout": 15, "max_connections": 1000}  # noqa: F405
    ]
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = 20000  # noqa: F405
