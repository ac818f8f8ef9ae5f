"""`python -m flowgate_site.serve --workers N …`: N Daphne processes on the same ports.

One Python process uses one core at most (docs/benchmarks.md says how many OpAMP messages a
second that is); with more cores, more processes carry more agents. The parent starts N
children of `flowgate_site.serve` with the same arguments. Each child binds every
`-e tcp:port=P:interface=I` endpoint itself with SO_REUSEPORT and hands the socket to Daphne
(its `fd:fileno=` endpoint), so the kernel spreads new connections evenly over the processes
(an OpAMP WebSocket stays for hours: an even spread matters more than for short requests).
The parent forwards SIGTERM/SIGINT and exits when a child exits, stopping the others: a
supervisor (systemd, Docker) restarts the whole group.

The processes must share what one process otherwise keeps in memory, so this needs the
production shape: REDIS_URL (channel layer: config pushes, token revocations and restarts
reach every process, each passes them to its own connections) and PostgreSQL.
"""

import os
import signal
import socket
import subprocess
import sys
import time

WORKERS_OPTION = "--workers"
# Set by the parent in its children's environment: bind the tcp endpoints with SO_REUSEPORT.
REUSE_PORT_VARIABLE = "FLOWGATE_SERVE_REUSE_PORT"
STOP_SECONDS = 15


class WorkersError(SystemExit):
    """A --workers setup that cannot work: exits with the message."""

    def __init__(self, message):
        super().__init__(f"flowgate_site.serve: {message}")


def take_option(argv):
    """(argv without --workers N, N); N is 1 when the option is absent."""
    rest, workers, index = [], 1, 0
    while index < len(argv):
        item = argv[index]
        if item == WORKERS_OPTION or item.startswith(WORKERS_OPTION + "="):
            inline = "=" in item
            value = item.partition("=")[2] if inline else (argv[index + 1] if index + 1 < len(argv) else "")
            if not value.isdigit() or int(value) < 1:
                raise WorkersError(f"{WORKERS_OPTION} takes a number of processes (1 or more), not {value!r}")
            workers = int(value)
            index += 1 if inline else 2
            continue
        rest.append(item)
        index += 1
    return rest, workers


def tcp_address(description):
    """(interface, port, backlog) of a `tcp:port=P[:interface=I][:backlog=B]` endpoint."""
    kind, _, fields = description.partition(":")
    values = dict(field.partition("=")[::2] for field in fields.split(":") if field)
    if kind != "tcp" or not values.get("port", "").isdigit():
        raise WorkersError(f"{WORKERS_OPTION} takes -e tcp:port=P[:interface=I][:backlog=B] only, not {description!r}")
    interface = values.get("interface", "0.0.0.0")  # noqa: S104  (Twisted's default as well)
    if ":" in interface:
        raise WorkersError(f"{WORKERS_OPTION} supports IPv4 interfaces only, not {interface!r}")
    return interface, int(values["port"]), int(values.get("backlog", 1024))


def endpoints_of(argv):
    """The values of argv's -e/--endpoint options."""
    return [argv[index + 1] for index, item in enumerate(argv[:-1]) if item in ("-e", "--endpoint")]


def check_arguments(argv, environ):
    if not environ.get("REDIS_URL"):
        raise WorkersError(
            f"{WORKERS_OPTION} needs REDIS_URL: without a shared channel layer a config pushed in one "
            "process would never reach the agents connected to another"
        )
    if not environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise WorkersError(f"{WORKERS_OPTION} needs DATABASE_URL pointing at PostgreSQL (SQLite is one process's)")
    endpoints = endpoints_of(argv)
    if not endpoints:
        raise WorkersError(f"{WORKERS_OPTION} needs the listening addresses as -e tcp:port=P:interface=I")
    for endpoint in endpoints:
        tcp_address(endpoint)


def adopt_reused_ports(argv):
    """In a child: argv with each tcp endpoint replaced by an SO_REUSEPORT socket of its own."""
    result, index = [], 0
    while index < len(argv):
        item = argv[index]
        if item in ("-e", "--endpoint") and index + 1 < len(argv):
            interface, port, backlog = tcp_address(argv[index + 1])
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((interface, port))
            sock.listen(backlog)
            result += [item, f"fd:fileno={sock.detach()}"]  # Twisted adopts (and closes) it
            index += 2
            continue
        result.append(item)
        index += 1
    return result


def run(argv, workers, environ=None):
    """Start `workers` server processes on the same ports; returns the exit status."""
    environ = dict(os.environ if environ is None else environ)
    check_arguments(argv, environ)
    command = [sys.executable, "-m", "flowgate_site.serve", *argv]
    children = [
        subprocess.Popen(command, env={**environ, REUSE_PORT_VARIABLE: "1"})  # noqa: S603  (ourselves)
        for _ in range(workers)
    ]

    def forward(number, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(number)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, forward)
    status = _first_exit(children)
    forward(signal.SIGTERM, None)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return status


def _first_exit(children):
    while True:
        for child in children:
            status = child.poll()
            if status is not None:
                return status
        time.sleep(0.2)
