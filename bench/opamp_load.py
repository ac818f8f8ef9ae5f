"""OpAMP load generator: N simulated WebSocket agents against a running FlowGate server.

    # once per N: an org, N gateways with instance_uids, N OpAMP tokens (bulk), tokens to a file
    python bench/opamp_load.py --setup --agents 5000 --tokens var/bench/tokens.txt
    # then, with the server's DATABASE_URL and REDIS_URL in the environment:
    python bench/opamp_load.py --agents 5000 --tokens var/bench/tokens.txt --server-pid $(pgrep -f daphne)

Phases, each bounded in time: connect all agents (full-state handshake) -> heartbeats every
--interval seconds for --duration seconds, round trip measured -> a config push through
gateways_app.services.assign_desired_config, timed until every agent reported APPLIED (and
until every Gateway row says so) -> close. Agents live in --processes worker processes
(bench/opamp_agents.py); this process coordinates, reads the server's RSS from /proc and
makes the push through the ORM, in a thread so that it keeps polling the rows meanwhile.
Loopback only: the URL must point at 127.0.0.1 or localhost. See docs/benchmarks.md.
"""

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import opamp_agents  # noqa: E402
import opamp_data  # noqa: E402
from opamp_report import percentiles, print_report  # noqa: E402

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:8000/v1/opamp", help="OpAMP WebSocket endpoint")
    parser.add_argument("--agents", type=int, default=1000, help="number of simulated agents (N)")
    parser.add_argument("--tokens", default="var/bench/tokens.txt", help="file written by --setup")
    parser.add_argument("--setup", action="store_true", help="create the bench org, gateways and tokens, then exit")
    parser.add_argument("--processes", type=int, default=2, help="worker processes for the agents")
    parser.add_argument("--connect-concurrency", type=int, default=200, help="handshakes in flight (all workers)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between an agent's heartbeats")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of heartbeats (0 = skip)")
    parser.add_argument("--no-push", action="store_true", help="skip the config push phase")
    parser.add_argument("--push-timeout", type=float, default=60.0, help="give up waiting for APPLIED after this")
    parser.add_argument("--server-pid", type=int, help="pid of the server (and the processes it started): memory, CPU")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if urlparse(args.url).hostname not in LOOPBACK_HOSTS:
        parser.error("--url must point at this machine (127.0.0.1, localhost or ::1)")
    if not 1 <= args.agents <= 20_000:
        parser.error("--agents must be between 1 and 20000")
    if args.duration > 600 or args.push_timeout > 600:
        parser.error("--duration and --push-timeout are capped at 600 seconds")
    return args


def process_tree(pid):
    """The process and every process it started, recursively (`--workers` children)."""
    pids, index = [pid], 0
    while index < len(pids):
        try:
            children = Path(f"/proc/{pids[index]}/task/{pids[index]}/children").read_text().split()
        except OSError:  # ended meanwhile
            children = []
        pids.extend(int(child) for child in children)
        index += 1
    return pids


def server_rss_kib(pid):
    """VmRSS in KiB of the server process and the processes it started (None without a pid)."""
    if pid is None:
        return None
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def server_cpu_seconds(pid):
    """User + system CPU seconds the server process and the processes it started have used (None without a pid)."""
    if pid is None:
        return None
    ticks = 0
    for member in process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / 100  # USER_HZ is 100 on Linux


def machine_cpu_seconds():
    """CPU seconds all processes of the machine used so far (busy time of every core, /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / 100


def read_tokens(path, count):
    """The first `count` (index, uid_hex, token) rows of the token file, and their gateway ids."""
    rows, gateway_ids = [], []
    with open(path) as handle:
        for index, line in enumerate(handle):
            if index == count:
                break
            gateway_id, uid_hex, token = line.split()
            rows.append((index, uid_hex, token))
            gateway_ids.append(gateway_id)
    if len(rows) < count:
        sys.exit(f"{path} holds {len(rows)} tokens; run --setup --agents {count} first")
    return rows, gateway_ids


class Workers:
    """The worker processes and their pipes; every command goes to all of them."""

    def __init__(self, url, rows, processes):
        context = multiprocessing.get_context("spawn")  # workers import no Django
        self.pipes, self.processes = [], []
        for part in range(processes):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=opamp_agents.worker_main, args=(theirs, url, rows[part::processes]), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def send(self, *command):
        for pipe in self.pipes:
            pipe.send(command)

    def receive(self, timeout):
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError("a worker did not answer in time")
            answers.append(pipe.recv())
        return answers

    def run(self, command, timeout, *args):
        self.send(command, *args)
        return self.receive(timeout)

    def stop(self):
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def connect_phase(workers, args, results):
    rss_before = server_rss_kib(args.server_pid)
    cpu_before = server_cpu_seconds(args.server_pid)
    answers = workers.run("connect", 600, max(1, args.connect_concurrency // args.processes))
    connected = sum(answer["connected"] for answer in answers)
    time.sleep(1)  # let the server finish writing what the handshakes reported
    rss_after = server_rss_kib(args.server_pid)
    results["connect"] = {
        "agents": args.agents,
        "connected": connected,
        "failed": sum(answer["failed"] for answer in answers),
        "seconds": max(a["finished"] for a in answers) - min(a["started"] for a in answers),
        "handshake": percentiles(sum((answer["durations"] for answer in answers), [])),
        "errors": _merge(answer["errors"] for answer in answers),
        "loadgen_cpu": sum(answer["cpu"] for answer in answers),
        "server_cpu": _delta(server_cpu_seconds(args.server_pid), cpu_before),
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
        "server_kib_per_agent": (rss_after - rss_before) / connected if rss_before and connected else None,
    }
    return connected


def heartbeat_phase(workers, args, results):
    start = time.monotonic() + 1.0
    end = start + args.duration
    cpu_before = server_cpu_seconds(args.server_pid)
    machine_before = machine_cpu_seconds()
    answers = workers.run("heartbeat", args.duration + 120, start, args.interval, end)
    machine = machine_cpu_seconds() - machine_before
    server = _delta(server_cpu_seconds(args.server_pid), cpu_before)
    loadgen = sum(answer["cpu"] for answer in answers)
    rtts = sum((answer["rtt"] for answer in answers), [])
    results["heartbeat"] = {
        "interval": args.interval,
        "duration": args.duration,
        "round_trips": len(rtts),
        "per_second": len(rtts) / args.duration,
        "rtt": percentiles(rtts),
        "send_lag": percentiles(sum((answer["lag"] for answer in answers), [])),
        "resyncs": sum(answer["resync"] for answer in answers),
        "skipped": sum(answer["skipped"] for answer in answers),
        "errors": _merge(answer["errors"] for answer in answers),
        "loadgen_cpu_percent": _percent(loadgen, args.duration),
        "server_cpu_percent": _percent(server, args.duration),
        # Everything else running on the machine meanwhile (PostgreSQL, Redis, other programs):
        # a busy neighbour shows up as latency that is neither the server's nor the generator's.
        "other_cpu_percent": _percent(machine - loadgen - (server or 0), args.duration),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "server_rss_kib": server_rss_kib(args.server_pid),
    }


def push_phase(workers, args, results, gateway_ids):
    workers.send("push", args.push_timeout)
    assert all(answer == {"armed": True} for answer in workers.receive(30))
    cpu_before = server_cpu_seconds(args.server_pid)
    outcome = {}
    started = time.monotonic()
    pusher = threading.Thread(target=_push, args=(gateway_ids, outcome))
    pusher.start()
    rows_applied_at = _wait_for_rows(pusher, outcome, len(gateway_ids), started + args.push_timeout)
    answers = workers.receive(args.push_timeout + 30)
    pusher.join()
    results["push"] = _push_results(answers, started, outcome, rows_applied_at)
    results["push"]["server_cpu"] = _delta(server_cpu_seconds(args.server_pid), cpu_before)
    results["push"]["server_rss_kib"] = server_rss_kib(args.server_pid)


def _push(gateway_ids, outcome):
    try:
        outcome["hash"], outcome["times"] = opamp_data.push_config(gateway_ids, uuid.uuid4().hex)
    except Exception as error:  # reported, not raised: the phase still ends on time
        outcome["error"] = repr(error)
    finally:
        opamp_data.close_connections()


def _wait_for_rows(pusher, outcome, expected, deadline):
    """Poll the Gateway rows until all say APPLIED with the new hash; the monotonic time, or None."""
    while time.monotonic() < deadline:
        if "hash" in outcome and opamp_data.count_applied(outcome["hash"]) >= expected:
            return time.monotonic()
        if "error" in outcome:
            return None
        time.sleep(0.01)
    return None


def _push_results(answers, started, outcome, rows_applied_at):
    # Counted from the call of assign_desired_config (not from creating the template version).
    started = outcome.get("times", {}).get("started_at", started)

    def since_start(name):
        return [stamp - started for answer in answers for stamp in answer[name] if stamp is not None]

    acked = since_start("applied_acked")
    total = sum(len(answer["applied_acked"]) for answer in answers)
    return {
        "committed": outcome.get("times", {}).get("committed"),
        "service_returned": outcome.get("times", {}).get("returned"),
        "error": outcome.get("error"),
        "agents": total,
        "received": percentiles(since_start("received")),
        "applied_sent": percentiles(since_start("applied_sent")),
        "applied_acked": percentiles(acked),
        "all_applied_acked": max(acked) if len(acked) == total and total else None,
        "all_rows_applied": rows_applied_at - started if rows_applied_at else None,
        "missing": total - len(acked),
        "errors": _merge(answer["errors"] for answer in answers),
    }


def _merge(dicts):
    merged = {}
    for errors in dicts:
        for key, count in errors.items():
            merged[key] = merged.get(key, 0) + count
    return merged


def _delta(after, before):
    return None if after is None or before is None else after - before


def _percent(seconds, duration):
    return None if seconds is None else 100 * seconds / duration


def run(args):
    opamp_agents.raise_fd_limit(256)
    rows, gateway_ids = read_tokens(args.tokens, args.agents)
    results = {"url": args.url, "processes": args.processes, "machine": machine()}
    workers = Workers(args.url, rows, args.processes)
    try:
        connected = connect_phase(workers, args, results)
        if connected and args.duration > 0:
            heartbeat_phase(workers, args, results)
        if connected and not args.no_push:
            opamp_data.setup_django()
            push_phase(workers, args, results, gateway_ids)
        results["close"] = {"unsolicited": sum(a["unsolicited"] for a in workers.run("close", 120))}
    finally:
        workers.stop()
    return results


def machine() -> str:
    """The CPU behind the numbers (hosts of the same machine kind differ: docs/benchmarks.md)."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "bogomips")):
                    key, _, value = line.partition(":")
                    model += f"{key.strip()} {value.strip()}, "
                    if key.strip() == "bogomips":
                        break
    except OSError:
        pass
    return f"{model}{os.cpu_count()} CPUs"


def main(argv=None):
    args = parse_args(argv)
    if args.setup:
        opamp_data.setup_django()
        count = opamp_data.create_bench_data(args.agents, args.tokens)
        print(f"bench org: {count} gateways and OpAMP tokens; tokens in {args.tokens}")
        return
    results = run(args)
    print_report(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
