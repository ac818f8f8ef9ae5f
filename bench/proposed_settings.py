"""flowgate_site.settings plus channel-layer settings the benchmark found missing (docs/benchmarks.md).

Used by `LAYER_FIX=1 bash bench/run_opamp_bench.sh`. Each value fixes a failure seen under
load with redis-py 8.1 and channels-redis 4.3:

- socket_timeout above channels-redis' 5 s BZPOPMIN (redis-py's default read timeout is also
  5 s: idle consumers died with 1011). Now in flowgate_site/settings.py (commit fdceccd).
- max_connections: redis-py's asyncio pool defaults to 100 and raises instead of waiting; a
  burst of group_add calls killed consumers. The consumer now bounds its own channel-layer
  calls (presence.LAYER_CONCURRENCY), so this is a second line of defence.
- capacity: all consumers of one server process share one Redis key, and group_send drops a
  message (logging at INFO only) once 100 are waiting there. Config pushes now go once per
  process, but per-gateway events (token revocations, restarts) to more than ~100 gateways
  at once are still dropped beyond the 100th (the periodic token check catches revocations).
"""

from flowgate_site.settings import *  # noqa: F403

if REDIS_URL:  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [  # noqa: F405
        {"address": REDIS_URL, "socket_timeout": 15, "max_connections": 1000}  # noqa: F405
    ]
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = 20000  # noqa: F405
