"""Summarise an A/B run of bench/ab_server_extensions.sh: one row per run, then each configuration against the baseline.

`python bench/ab_table.py var/bench/ab/<start time>` prints Markdown tables: every run's numbers
(push to all APPLIED, heartbeat p99, time to connect all agents, server CPU in each phase) and, per
configuration, the mean of its runs and the change against the mean of all baseline runs. The
decision rule of docs/benchmarks.md (an extension stays if turning it off costs at least 10 % on one
metric) reads the last table.
"""

import json
import sys
from pathlib import Path
from statistics import mean

# (label, how to read it from a run's JSON); lower is better for every one.
METRICS = (
    ("push → all APPLIED (s)", lambda r: r["push"]["all_applied_acked"]),
    ("heartbeat p99 (ms)", lambda r: r["heartbeat"]["rtt"]["p99"]),
    ("connect all (s)", lambda r: r["connect"]["seconds"]),
    ("server CPU: connect (s)", lambda r: r["connect"]["server_cpu"]),
    ("server CPU: heartbeats (% of a core)", lambda r: r["heartbeat"]["server_cpu_percent"]),
    ("server CPU: push (s)", lambda r: r["push"]["server_cpu"]),
)


def read_runs(folder):
    """[(number, configuration, load average, results or None)] in run order."""
    runs = []
    for line in (folder / "runs.tsv").read_text().splitlines():
        number, config, load, path = line.split("\t")
        path = Path(path)
        results = json.loads(path.read_text()) if path.exists() else None
        runs.append((int(number), config, load, results))
    return runs


def value(metric, results):
    try:
        return metric[1](results)
    except (KeyError, TypeError):
        return None


def cell(number):
    return "–" if number is None else f"{number:.3g}" if abs(number) < 100 else f"{number:.0f}"


def connected(results):
    return f"{results['connect']['connected']:,}" if results else "–"


def others(results):
    """CPU of everything but the server and the load generator during the heartbeats: how quiet the machine was."""
    return cell(value(("", lambda r: r["heartbeat"]["other_cpu_percent"]), results)) if results else "–"


def print_runs(runs):
    head = "| Run | Configuration | Load average before | Others' CPU (%) | Connected | "
    print(head + " | ".join(m[0] for m in METRICS) + " |")
    print("| ---: | --- | --- | ---: | ---: |" + " ---: |" * len(METRICS))
    for number, config, load, results in runs:
        values = " | ".join(cell(value(metric, results)) for metric in METRICS)
        print(f"| {number} | {config} | {load} | {others(results)} | {connected(results)} | {values} |")


def print_comparison(runs):
    by_config = {}
    for _number, config, _load, results in runs:
        if results is not None:
            by_config.setdefault(config, []).append(results)
    baseline = by_config.get("baseline", [])
    print("| Configuration | Runs | " + " | ".join(m[0] for m in METRICS) + " |")
    print("| --- | ---: |" + " ---: |" * len(METRICS))
    for config, results in by_config.items():
        cells = []
        for metric in METRICS:
            values = [v for v in (value(metric, r) for r in results) if v is not None]
            base = [v for v in (value(metric, r) for r in baseline) if v is not None]
            if not values:
                cells.append("–")
                continue
            text = cell(mean(values))
            if config != "baseline" and base and mean(base):
                text += f" ({100 * (mean(values) / mean(base) - 1):+.0f} %)"
            cells.append(text)
        print(f"| {config} | {len(results)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    runs = read_runs(folder)
    print_runs(runs)
    print()
    print_comparison(runs)
