#!/usr/bin/env bash
# OpAMP load benchmark: for N = 1000 and N = 5000, set up N gateways and tokens, start one
# Daphne process (PostgreSQL + Redis, DEBUG off), warm it up, run bench/opamp_load.py
# against it, stop it. Results: var/bench/opamp-N.json and var/bench/opamp-N.txt.
#
#   bash bench/run_opamp_bench.sh               # both sizes
#   SIZES="1000" PROFILE=1 bash bench/run_opamp_bench.sh   # + py-spy profile of the server
#
# Environment (defaults in brackets): DATABASE_URL [postgres://postgres@127.0.0.1:5432/flowgate_bench],
# REDIS_URL [redis://127.0.0.1:6379/4], PORT [8400], SIZES ["1000 5000"], DURATION [30],
# INTERVAL_1000 [1], INTERVAL_5000 [5], PROCESSES [2], PROFILE [0], DAPHNE_ARGS [],
# ASGI_APP [flowgate_site.asgi:application]: another ASGI application (e.g. an experiment in bench/);
# SERVER_COMMAND []: a command that starts another server on 127.0.0.1:$PORT instead of Daphne
#   (e.g. to compare ASGI servers); results then go under var/bench/custom-server/.
# Loopback only; every step is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
OUT=var/bench
PORT=${PORT:-8400}
SIZES=${SIZES:-"1000 5000"}
DURATION=${DURATION:-30}
PROCESSES=${PROCESSES:-2}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/flowgate_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/4}
export REDIS_KEY_PREFIX=${REDIS_KEY_PREFIX:-flowgate-bench}
# Production settings: DEBUG off (Django would otherwise keep every SQL query in memory).
export DEBUG=false
export SECRET_KEY=${SECRET_KEY:-bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz}
export SECURE_SSL_REDIRECT=false
mkdir -p "$OUT"
ASGI_APP=${ASGI_APP:-flowgate_site.asgi:application}
export PYTHONPATH="$PWD/bench${PYTHONPATH:+:$PYTHONPATH}"  # bench/ modules for the two options below
if [ "$ASGI_APP" != flowgate_site.asgi:application ]; then
  OUT=$OUT/${ASGI_APP%%:*}
fi
if [ -n "${SERVER_COMMAND:-}" ]; then
  OUT=$OUT/custom-server
fi
mkdir -p "$OUT"

# Enough descriptors for 5,000 sockets in the server (the load generator raises its own).
ulimit -n "$(ulimit -Hn)"

DB_NAME=${DATABASE_URL##*/}
if ! psql "${DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
  psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE $DB_NAME"
fi
$PY manage.py migrate --noinput -v0
redis-cli -u "$REDIS_URL" flushdb >/dev/null

DAPHNE_PID=""
PYSPY_PID=""
stop_server() {
  if [ -n "$PYSPY_PID" ]; then kill -INT "$PYSPY_PID" 2>/dev/null || true; wait "$PYSPY_PID" 2>/dev/null || true; fi
  if [ -n "$DAPHNE_PID" ]; then kill "$DAPHNE_PID" 2>/dev/null || true; wait "$DAPHNE_PID" 2>/dev/null || true; fi
  PYSPY_PID=""
  DAPHNE_PID=""
}
trap stop_server EXIT

start_server() {
  # shellcheck disable=SC2086  # DAPHNE_ARGS is a list of options
  # flowgate_site.serve: Daphne with the OpAMP WebSocket limits, as `make run` and tests/live.py start it.
  if [ -n "${SERVER_COMMAND:-}" ]; then
    # shellcheck disable=SC2086  # a command line
    $SERVER_COMMAND >"$OUT/daphne-$1.log" 2>&1 &
  else
    $PY -m flowgate_site.serve -e "tcp:port=$PORT:interface=127.0.0.1:backlog=1024" ${DAPHNE_ARGS:-} \
      "$ASGI_APP" >"$OUT/daphne-$1.log" 2>&1 &
  fi
  DAPHNE_PID=$!
  for _ in $(seq 100); do
    if (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "Daphne did not start; see $OUT/daphne-$1.log" >&2
  exit 1
}

for N in $SIZES; do
  interval_var="INTERVAL_$N"
  interval=${!interval_var:-$([ "$N" -le 1000 ] && echo 1 || echo 5)}
  echo "== N=$N (heartbeat every ${interval}s for ${DURATION}s)"
  timeout 300 $PY bench/opamp_load.py --setup --agents "$N" --tokens "$OUT/tokens-$N.txt"
  start_server "$N"
  # Warm-up: the first connections import and initialise what every later one uses.
  timeout 120 $PY bench/opamp_load.py --url "ws://127.0.0.1:$PORT/v1/opamp" --agents 10 --processes 1 \
    --tokens "$OUT/tokens-$N.txt" --duration 0 --no-push >/dev/null
  if [ "${PROFILE:-0}" = 1 ]; then
    .venv/bin/py-spy record --pid "$DAPHNE_PID" --rate 200 --format speedscope \
      --output "$OUT/profile-$N.speedscope.json" >"$OUT/py-spy-$N.log" 2>&1 &
    PYSPY_PID=$!
  fi
  timeout 900 $PY bench/opamp_load.py --url "ws://127.0.0.1:$PORT/v1/opamp" --agents "$N" \
    --tokens "$OUT/tokens-$N.txt" --processes "$PROCESSES" --interval "$interval" --duration "$DURATION" \
    --server-pid "$DAPHNE_PID" --json "$OUT/opamp-$N.json" | tee "$OUT/opamp-$N.txt"
  stop_server
done
