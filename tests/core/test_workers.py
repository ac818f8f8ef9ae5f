"""`python -m flowgate_site.serve --workers N` keeps N processes: one that dies is replaced, a crash loop stops all.

The live test runs --workers 2 on PostgreSQL and Redis, as tests/opamp_app/test_workers_live.py does.
"""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from flowgate_site import workers
from tests.live import free_port, redis_key_prefix, server_env, start, stop_process, wait_for_port
from tests.opamp_app.conftest import WsAgent, make_token, open_ws
from tests.opamp_app.test_workers_live import Server, children_of, established_on


@pytest.fixture
def redis_prefix():
    """The server processes' channel layer and cache under a prefix of this test's own."""
    with redis_key_prefix("workers") as prefix:
        yield prefix


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_restarts_wait_longer_each_time_and_stop_at_the_limit_of_a_minute():
    clock = Clock()
    restarts = workers.Restarts(clock=clock)
    delays = [restarts.next_delay() for _ in range(workers.RESTART_LIMIT + 1)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, None]


def test_restarts_are_allowed_again_once_the_minute_has_passed():
    clock = Clock()
    restarts = workers.Restarts(clock=clock)
    for _ in range(workers.RESTART_LIMIT):
        restarts.next_delay()
    clock.now += workers.RESTART_WINDOW_SECONDS
    assert restarts.next_delay() == 1.0


@pytest.mark.process
def test_a_process_that_keeps_dying_stops_the_group(monkeypatch):
    monkeypatch.setattr(workers, "RESTART_DELAY_SECONDS", 0.01)
    monkeypatch.setattr(workers, "RESTART_LIMIT", 3)
    group = workers.Group([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), 1)
    started = time.monotonic()
    assert group.supervise() == 1
    assert time.monotonic() - started < 10
    assert len(group.restarts.times) == 3  # restarted three times, then gave up


def wait_until(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(message)


def listens(pid, port):
    """Whether process `pid` holds a listening TCP socket on `port` (from /proc)."""
    inodes = {os.readlink(fd)[8:-1] for fd in Path(f"/proc/{pid}/fd").iterdir() if socket_link(fd)}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A" and fields[9] in inodes:
            return True
    return False


def socket_link(fd):
    try:
        return os.readlink(fd).startswith("socket:[")
    except OSError:
        return False


def replacement(parent, killed):
    """The parent's two children once `killed` is no longer one of them, else None."""
    children = children_of(parent)
    return children if len(children) == 2 and killed not in children else None


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_a_worker_killed_is_replaced_and_serves(django_db_setup, redis_prefix, org, gateway):
    port = free_port()
    command = ["flowgate_site.serve", "--workers", "2", "-e", f"tcp:port={port}:interface=127.0.0.1"]
    process, output = start([*command, "flowgate_site.asgi:application"], server_env(FLOWGATE_EMBEDDED_BEAT="false"))
    agents = []
    try:
        wait_for_port(port, process)
        first = wait_until(lambda: len(children_of(process.pid)) == 2 and children_of(process.pid), 30, "2 workers")
        os.kill(first[0], signal.SIGKILL)
        replaced = wait_until(
            lambda: replacement(process.pid, first[0]), 30, f"no new worker in place of {first[0]}: {output.text()}"
        )
        (newcomer,) = set(replaced) - set(first)
        wait_until(lambda: listens(newcomer, port), 30, f"worker {newcomer} does not listen: {output.text()}")
        # The kernel spreads connections over both processes: enough of them reach the new one.
        token = make_token(gateway)
        for _ in range(16):
            agent = WsAgent(open_ws(Server(port), token))
            assert agent.send().instance_uid  # answered
            agents.append(agent)
            if established_on(newcomer, port):
                break
        assert established_on(newcomer, port) > 0
        assert process.poll() is None
    finally:
        for agent in agents:
            agent.close()
        text = stop_process(process, output)
    assert process.returncode == 0, text
    assert f"worker {first[0]} exited with -9; another in 1.0 s" in text
    assert "Traceback" not in text
