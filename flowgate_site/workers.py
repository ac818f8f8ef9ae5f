"""`python -m flowgate_site.serve --workers N …`: N Daphne processes on the same ports.

One Python process uses one core at most (docs/benchmarks.md says how many OpAMP messages a
second that is); with more cores, more processes carry more agents. The parent starts N
children of `flowgate_site.serve` with the same arguments. Each child binds every
`-e tcp:port=P:interface=I` endpoint itself with SO_REUSEPORT and hands the socket to Daphne
(its `fd:fileno=` endpoint), so the kernel spreads new connections evenly over the processes
(an OpAMP WebSocket stays for hours: an even spread matters more than for short requests).
The parent forwards SIGTERM/SIGINT (all stop, the parent exits 0 if they did) and starts a new
process in place of one that dies, after a pause that doubles with each restart of the last
minute (RESTART_DELAY_SECONDS, 2x, 4x …). A process that keeps dying is a crash loop, not bad luck:
after RESTART_LIMIT restarts within a minute the parent stops the group and exits with an error,
for its own supervisor (systemd, Docker) to see.

The processes must share what one process otherwise keeps in memory, so this needs the
production shape: REDIS_URL (channel layer: config pushes, token revocations and restarts
reach every process, each passes them to its own connections) and PostgreSQL.
"""

import logging
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
POLL_SECONDS = 0.2
RESTART_DELAY_SECONDS = 1.0
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 60.0

logger = logging.getLogger(__name__)


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
    """Start `workers` server processes on the same ports and keep them running; returns the exit status."""
    environ = dict(os.environ if environ is None else environ)
    check_arguments(argv, environ)
    command = [sys.executable, "-m", "flowgate_site.serve", *argv]
    group = Group(command, {**environ, REUSE_PORT_VARIABLE: "1"}, workers)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, group.request_stop)
    status = group.supervise()
    stopped = group.stop()
    return status or stopped


class Restarts:
    """When a dead process may be replaced: after a pause that doubles with each restart of the
    window, and not at all once RESTART_LIMIT restarts fall within it (a crash loop)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.times = []

    def next_delay(self):
        """Seconds to wait before the next restart, or None when the limit is reached."""
        now = self.clock()
        self.times = [moment for moment in self.times if now - moment < RESTART_WINDOW_SECONDS]
        if len(self.times) >= RESTART_LIMIT:
            return None
        self.times.append(now)
        return RESTART_DELAY_SECONDS * 2 ** (len(self.times) - 1)


class Group:
    """The server processes of one --workers parent."""

    def __init__(self, command, env, size):
        self.command = command
        self.env = env
        self.stopping = False
        self.signalled = set()
        self.restarts = Restarts()
        self.children = [self.spawn() for _ in range(size)]

    def spawn(self):
        return subprocess.Popen(self.command, env=self.env)  # noqa: S603  (ourselves)

    def request_stop(self, number, _frame=None):
        """SIGTERM/SIGINT to the parent: passed to every process; nothing is restarted any more."""
        self.stopping = True
        self.signal_all(number)

    def signal_all(self, number):
        """Signal each running process once: a second SIGTERM would make Twisted stop a stopping reactor."""
        for child in self.children:
            if child.poll() is None and child.pid not in self.signalled:
                self.signalled.add(child.pid)
                child.send_signal(number)

    def supervise(self):
        """Replace processes that die until a stop is asked (0) or one crash-loops (1)."""
        while not self.stopping:
            for index, child in enumerate(self.children):
                status = child.poll()
                if status is None or self.stopping:
                    continue
                delay = self.restarts.next_delay()
                if delay is None:
                    logger.error(
                        "flowgate_site.serve: worker %s exited with %s after %s restarts within %s s: stopping all",
                        child.pid,
                        status,
                        RESTART_LIMIT,
                        int(RESTART_WINDOW_SECONDS),
                    )
                    return 1
                logger.warning(
                    "flowgate_site.serve: worker %s exited with %s; another in %s s", child.pid, status, delay
                )
                if self.pause(delay):
                    self.children[index] = self.spawn()
                    logger.warning("flowgate_site.serve: worker %s started", self.children[index].pid)
            time.sleep(POLL_SECONDS)
        return 0

    def pause(self, seconds):
        """Sleep, cut short by a stop request; False if one came."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return not self.stopping

    def stop(self):
        """Stop every process (killed after STOP_SECONDS); 0 if all exited 0, else 1."""
        self.stopping = True
        self.signal_all(signal.SIGTERM)  # those the request did not reach (started just after it)
        deadline = time.monotonic() + STOP_SECONDS
        statuses = []
        for child in self.children:
            try:
                statuses.append(child.wait(timeout=max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.kill()
                statuses.append(child.wait())
        return 0 if all(status == 0 for status in statuses) else 1
