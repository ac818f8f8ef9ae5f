"""Simulated OpAMP agents over WebSocket (asyncio + websockets), run in worker processes.

No Django here: a worker imports only the project's plain-Python framing and protobuf
modules. The coordinator (opamp_load.py) drives each worker through a pipe with commands:

    ("connect", concurrency)            -> open every agent, full-state handshake
    ("heartbeat", start, interval, end) -> heartbeats on a fixed schedule, round trips measured
    ("push", timeout)                   -> "armed"; then wait until every agent reported APPLIED
    ("close",)                          -> close every connection; the worker exits

Each answer is a dict of plain values (lists of floats for timings, monotonic timestamps,
which are comparable across processes on Linux). Every agent is a real OpAMP WebSocket
client: binary frames with the varint header, sequence numbers +1 per message, ReportFullState
honoured with a full status report, AgentRemoteConfig answered with APPLIED and the hash.
"""

import asyncio
import os
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from opamp_core import framing  # noqa: E402
from opamp_core.proto import anyvalue_pb2, opamp_pb2  # noqa: E402

Caps = opamp_pb2.AgentCapabilities
CAPABILITIES = (
    Caps.AgentCapabilities_ReportsStatus
    | Caps.AgentCapabilities_AcceptsRemoteConfig
    | Caps.AgentCapabilities_ReportsRemoteConfig
    | Caps.AgentCapabilities_ReportsEffectiveConfig
    | Caps.AgentCapabilities_ReportsHealth
    | Caps.AgentCapabilities_ReportsHeartbeat
)
APPLIED = opamp_pb2.RemoteConfigStatuses_APPLIED
REPORT_FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
REPLY_TIMEOUT = 15.0
CONNECT_TIMEOUT = 60.0
MAX_FULL_STATE_ROUNDS = 3


class NoReply(Exception):
    """The server did not answer in time, or the connection closed while waiting."""


def _attribute(key, value):
    pair = anyvalue_pb2.KeyValue(key=key)
    pair.value.string_value = value
    return pair


class SimAgent:
    """One simulated collector: a WebSocket, a sequence number, one request in flight at a time."""

    def __init__(self, url, index, uid_hex, token):
        self.url = url
        self.index = index
        self.uid = bytes.fromhex(uid_hex)
        self.token = token
        self.sequence_num = 0
        self.ws = None
        self.reader = None
        self.lock = asyncio.Lock()
        self.waiter = None
        self.remote_status = None
        self.unsolicited = 0
        self.errors = Counter()
        self.applying = None
        self.config_received_at = None
        self.applied_sent_at = None
        self.applied_acked_at = None

    def _message(self, **fields):
        message = opamp_pb2.AgentToServer(
            instance_uid=self.uid, sequence_num=self.sequence_num, capabilities=CAPABILITIES, **fields
        )
        self.sequence_num += 1
        return message

    def full_state(self):
        description = opamp_pb2.AgentDescription(
            identifying_attributes=[_attribute("service.name", "bench-agent"), _attribute("service.version", "1.0")],
            non_identifying_attributes=[_attribute("host.name", f"bench-{self.index:05d}.local")],
        )
        health = opamp_pb2.ComponentHealth(healthy=True, status="StatusOK")
        message = self._message(agent_description=description, health=health)
        if self.remote_status is not None:
            message.remote_config_status.CopyFrom(self.remote_status)
        return message

    def heartbeat(self):
        return self._message()

    async def open(self):
        """Connect and report the full state (again if the server asks). Returns seconds taken."""
        started = time.perf_counter()
        self.ws = await connect(
            self.url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            compression=None,  # like opamp-go: no permessage-deflate (zlib contexts cost memory)
            proxy=None,
            ping_interval=None,
            open_timeout=CONNECT_TIMEOUT,
            max_size=framing.DEFAULT_MAX_MESSAGE_BYTES,
        )
        self.reader = asyncio.create_task(self._read())
        reply = await self.request(self.full_state())
        rounds = 1
        while reply.flags & REPORT_FULL_STATE and rounds < MAX_FULL_STATE_ROUNDS:
            reply = await self.request(self.full_state())
            rounds += 1
        return time.perf_counter() - started

    async def request(self, message, timeout=REPLY_TIMEOUT):
        """Send one AgentToServer and wait for the next ServerToAgent (the reply)."""
        async with self.lock:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.ws.send(framing.encode(message))
                return await asyncio.wait_for(self.waiter, timeout)
            except (TimeoutError, ConnectionClosed) as error:
                raise NoReply(type(error).__name__) from None
            finally:
                self.waiter = None

    async def _read(self):
        try:
            async for data in self.ws:
                self._on_message(framing.decode(data, opamp_pb2.ServerToAgent))
        except ConnectionClosed as closed:
            self.errors[f"closed {closed.rcvd.code if closed.rcvd else 'abnormally'}"] += 1
        finally:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionClosed(None, None))

    def _on_message(self, message):
        if message.HasField("error_response"):
            self.errors[f"error_response {message.error_response.type}"] += 1
        if message.HasField("remote_config") and self.applying is None:
            self.config_received_at = time.monotonic()
            self.applying = asyncio.create_task(self._apply(message.remote_config.config_hash))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(message)
        else:
            self.unsolicited += 1

    async def _apply(self, config_hash):
        """What a collector does with a new config (instantly here): report APPLIED with its hash."""
        self.remote_status = opamp_pb2.RemoteConfigStatus(last_remote_config_hash=config_hash, status=APPLIED)
        self.applied_sent_at = time.monotonic()
        try:
            await self.request(self._message(remote_config_status=self.remote_status))
            self.applied_acked_at = time.monotonic()
        except NoReply as error:
            self.errors[f"APPLIED not acknowledged: {error}"] += 1
        finally:
            self.applying = None

    async def heartbeats(self, start, interval, end, stats):
        """One heartbeat every `interval` from a random phase; round trips into stats."""
        due = start + random.random() * interval  # noqa: S311  (spreading load, not security)
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            stats["lag"].append(time.monotonic() - due)
            sent = time.perf_counter()
            try:
                reply = await self.request(self.heartbeat())
            except NoReply as error:
                self.errors[f"heartbeat: {error}"] += 1
                return
            stats["rtt"].append(time.perf_counter() - sent)
            if reply.flags & REPORT_FULL_STATE:
                stats["resync"] += 1
                await self.request(self.full_state())
            due += interval
            while due < time.monotonic():  # fell behind: skip missed beats rather than burst
                due += interval
                stats["skipped"] += 1

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Worker:
    """The agents of one process and the commands of the coordinator."""

    def __init__(self, url, agents):
        self.agents = [SimAgent(url, *agent) for agent in agents]
        self.connected = []

    async def serve(self, pipe):
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, pipe.recv)
            cpu, wall = _cpu_seconds(), time.monotonic()
            answer = await getattr(self, f"do_{command}")(pipe, *args)
            answer.update(cpu=_cpu_seconds() - cpu, wall=time.monotonic() - wall, pid=os.getpid())
            pipe.send(answer)
            if command == "close":
                return

    async def do_connect(self, pipe, concurrency):
        gate = asyncio.Semaphore(concurrency)
        errors = Counter()

        async def open_one(agent):
            async with gate:
                try:
                    return agent, await agent.open()
                except (OSError, TimeoutError, InvalidStatus, ConnectionClosed, NoReply) as error:
                    errors[_describe(error)] += 1
                    await agent.close()
                    return agent, None

        started = time.monotonic()
        results = await asyncio.gather(*(open_one(agent) for agent in self.agents))
        self.connected = [agent for agent, seconds in results if seconds is not None]
        return {
            "started": started,
            "finished": time.monotonic(),
            "connected": len(self.connected),
            "failed": len(self.agents) - len(self.connected),
            "durations": [seconds for _, seconds in results if seconds is not None],
            "errors": dict(errors),
        }

    async def do_heartbeat(self, pipe, start, interval, end):
        stats = {"rtt": [], "lag": [], "resync": 0, "skipped": 0}
        await asyncio.gather(*(agent.heartbeats(start, interval, end, stats) for agent in self.connected))
        stats["errors"] = dict(sum((agent.errors for agent in self.connected), Counter()))
        return stats

    async def do_push(self, pipe, timeout):
        for agent in self.connected:
            agent.config_received_at = agent.applied_sent_at = agent.applied_acked_at = None
        pipe.send({"armed": True})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(agent.applied_acked_at is None for agent in self.connected):
            await asyncio.sleep(0.005)
        return {
            "received": [agent.config_received_at for agent in self.connected],
            "applied_sent": [agent.applied_sent_at for agent in self.connected],
            "applied_acked": [agent.applied_acked_at for agent in self.connected],
            "errors": dict(sum((agent.errors for agent in self.connected), Counter())),
        }

    async def do_close(self, pipe):
        await asyncio.gather(*(agent.close() for agent in self.agents))
        return {"unsolicited": sum(agent.unsolicited for agent in self.agents)}


def _describe(error):
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__ + (f": {error}" if str(error) else "")


def raise_fd_limit(wanted):
    """Raise RLIMIT_NOFILE to `wanted` (at most the hard limit); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def worker_main(pipe, url, agents):
    """Entry point of a worker process: `agents` is a list of (index, uid_hex, token)."""
    raise_fd_limit(len(agents) + 256)
    asyncio.run(Worker(url, agents).serve(pipe))
