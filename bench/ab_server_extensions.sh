#!/usr/bin/env bash
# A/B benchmark of flowgate_site.serve's performance extensions (docs/benchmarks.md, "What each
# server extension buys"): runs bench/run_opamp_bench.sh at one N for each configuration, in
# rounds, the baseline again between every two others so that drift of the machine shows.
#
#   bash bench/ab_server_extensions.sh                  # N = 5000, 2 rounds
#   N=500 ROUNDS=1 bash bench/ab_server_extensions.sh   # a dry run
#
# Configurations: baseline (every extension on, one process), no_direct_write
# (FLOWGATE_DIRECT_WRITE=false), workers_2 (`--workers 2`). The extensions that bought nothing were
# removed after the run docs/benchmarks.md shows (their configurations are in this file's git history).
# CONFIGS="baseline workers_2" picks some. Results: var/bench/ab/<start time>/<run>-<config>.{json,txt}
# and runs.tsv (one line per run: number, configuration, load average before it, result file).
# Other variables go to run_opamp_bench.sh (DATABASE_URL, REDIS_URL, PORT, DURATION, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000}
ROUNDS=${ROUNDS:-2}
CONFIGS=${CONFIGS:-"no_direct_write workers_2"}
PORT=${PORT:-8400}
export PORT
OUT=var/bench/ab/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ENDPOINT="tcp:port=$PORT:interface=127.0.0.1:backlog=1024"

run() {  # run NUMBER CONFIG
  local number=$1 config=$2 result=var/bench
  local -a environment=(SIZES="$N")
  case $config in
    baseline) ;;
    no_direct_write) environment+=(FLOWGATE_DIRECT_WRITE=false) ;;
    workers_2)
      environment+=(SERVER_COMMAND=".venv/bin/python -m flowgate_site.serve --workers 2 -e $ENDPOINT flowgate_site.asgi:application")
      result=var/bench/custom-server ;;
    *) echo "unknown configuration $config" >&2; exit 2 ;;
  esac
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "== run $number: $config (load average $load, $(date -u +%H:%M:%S) UTC)"
  rm -f "$result/opamp-$N.json"
  env "${environment[@]}" bash bench/run_opamp_bench.sh >"$OUT/$number-$config.log" 2>&1 || true
  cp "$result/opamp-$N.json" "$OUT/$number-$config.json" 2>/dev/null || echo "   no result, see $OUT/$number-$config.log"
  cp "$result/opamp-$N.txt" "$OUT/$number-$config.txt" 2>/dev/null || true
  cp "$result/daphne-$N.log" "$OUT/$number-$config.server.log" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\n' "$number" "$config" "$load" "$OUT/$number-$config.json" >>"$OUT/runs.tsv"
}

number=0
for _ in $(seq "$ROUNDS"); do
  for config in $CONFIGS; do
    number=$((number + 1)); run "$number" baseline
    number=$((number + 1)); run "$number" "$config"
  done
done
number=$((number + 1)); run "$number" baseline
.venv/bin/python bench/ab_table.py "$OUT"
