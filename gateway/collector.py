"""The collector process: start, stop, restart on crash with backoff, validate, list components.

Health comes from the process itself: the collector logs "Everything is ready" once its
pipelines run, and a config that fails at start makes it exit with an `Error: …` message.
That text is what the portal shows (`last_error`), verbatim. The builds FlowGate uses have
no health_check extension, so nothing else is needed; a metrics endpoint can be added
(`metrics_url`, checked by the supervisor).
"""

import asyncio
import ctypes
import ctypes.util
import logging
import os
import re
import signal
import time
from collections import deque
from dataclasses import dataclass

import yaml

from gateway.backoff import Backoff

logger = logging.getLogger(__name__)
output_logger = logging.getLogger("gateway.collector.output")

READY_MARKER = "Everything is ready"
# The collector repeats its error on a last line like "2024/01/01 10:00:00 collector server run finished with error: …".
RUN_FINISHED = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d collector server run finished with error")
COMPONENT_KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# A process that ran this long before crashing starts the backoff over.
STABLE_SECONDS = 30
STOP_TIMEOUT = 10
PR_SET_PDEATHSIG = 1  # prctl(2)


def error_text(output: str, tail_lines: int = 5) -> str:
    """The collector's own error message from its output: the `Error: …` block, else error log lines.

    With neither, the last `tail_lines` lines of output (0: nothing).
    """
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Error:"):
            block = []
            for rest in lines[index:]:
                if RUN_FINISHED.match(rest):
                    break
                block.append(rest)
            return "\n".join(block).strip()
    errors = [line for line in lines if "\terror\t" in line]
    if errors:
        return "\n".join(errors[-5:]).strip()
    return "\n".join(lines[-tail_lines:]).strip() if tail_lines else ""


def exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"collector killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"collector killed by signal {-code}"
    return f"collector exited with code {code}"


@dataclass
class Components:
    """What `<collector> components` lists: {kind: {name: module}} and the build's version."""

    version: str
    kinds: dict
    command: str = ""

    @classmethod
    def parse(cls, text: str) -> "Components":
        """Parse the YAML printed by `components` (buildinfo, receivers, …: lists of {name, module, stability})."""
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError("`components` did not print a YAML mapping")
        kinds = {}
        for kind in COMPONENT_KINDS:
            entries = data.get(kind) or []
            kinds[kind] = {str(entry["name"]): str(entry.get("module", "")) for entry in entries}
        buildinfo = data.get("buildinfo") or {}
        return cls(version=str(buildinfo.get("version", "")), kinds=kinds, command=str(buildinfo.get("command", "")))

    def has(self, kind: str, name: str) -> bool:
        return name in self.kinds.get(kind, {})


class Collector:
    """One collector process run with `--config <config_path>`, restarted when it dies unexpectedly.

    `on_change()` is called (without arguments) whenever what health() reports changes.
    """

    def __init__(self, binary, config_path, *, on_change=None, backoff=None, output_lines=200):
        self.binary = str(binary)
        self.config_path = str(config_path)
        self.on_change = on_change or (lambda: None)
        self.backoff = backoff or Backoff(initial=1, maximum=30)
        self.output = deque(maxlen=output_lines)
        self.process = None
        self.restarts = 0
        self.last_error = ""
        self.started_at_ns = 0
        self.ready = asyncio.Event()
        self.wanted = False  # should be running: an exit is then a crash
        self._generation = 0  # bumped by every intentional start/stop: stale watchers step aside
        self._started_monotonic = 0.0
        self._tasks = set()

    # Queries

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int:
        return self.process.pid if self.running else 0

    def output_text(self) -> str:
        return "\n".join(self.output)

    # Lifecycle

    async def start(self) -> None:
        """Start the collector (if it is not running) and watch it."""
        if self.running:
            return
        self._generation += 1
        self.wanted = True
        self.ready.clear()
        self.output.clear()
        self.process = await asyncio.create_subprocess_exec(
            self.binary,
            "--config",
            self.config_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self.started_at_ns = time.time_ns()
        self._started_monotonic = time.monotonic()
        logger.info("collector started (pid %s) with %s", self.process.pid, self.config_path)
        self._spawn(self._watch(self.process, self._generation))
        self.on_change()

    async def stop(self, timeout=STOP_TIMEOUT) -> None:
        """Stop the collector: SIGTERM, then SIGKILL after `timeout` seconds."""
        self.wanted = False
        self._generation += 1
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            logger.warning("collector (pid %s) ignored SIGTERM for %ss; killing it", process.pid, timeout)
            process.kill()
            await process.wait()
        logger.info("collector (pid %s) stopped", process.pid)
        self.on_change()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def wait_healthy(self, timeout: float, settle: float = 1.0) -> tuple[bool, str]:
        """(True, "") once the collector said it is ready and still runs `settle` seconds later.

        (False, the collector's error text) when it exits or is not ready within `timeout`.
        """
        process = self.process
        if process is None:
            return False, "the collector is not running"
        deadline = time.monotonic() + timeout
        exited = asyncio.ensure_future(process.wait())
        ready = asyncio.ensure_future(self.ready.wait())
        try:
            await asyncio.wait({exited, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and not exited.done():
                await asyncio.wait({exited}, timeout=min(settle, max(0.0, deadline - time.monotonic())))
        finally:
            ready.cancel()
            exited.cancel()
        if process.returncode is not None:
            await asyncio.sleep(0.1)  # let the reader collect the last lines
            return False, error_text(self.output_text()) or exit_description(process.returncode)
        if not self.ready.is_set():
            return False, f"the collector did not become ready within {timeout:g}s\n{error_text(self.output_text())}"
        return True, ""

    # Internals

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, process, generation):
        reader = asyncio.ensure_future(self._read(process))
        code = await process.wait()
        await asyncio.wait({reader}, timeout=2)
        if generation != self._generation or not self.wanted:
            return  # an intentional stop or restart
        self.restarts += 1
        detail = error_text(self.output_text(), tail_lines=0)
        self.last_error = f"{exit_description(code)}: {detail}" if detail else exit_description(code)
        logger.error("%s; restart #%d", self.last_error, self.restarts)
        if time.monotonic() - self._started_monotonic > STABLE_SECONDS:
            self.backoff.reset()
        self.on_change()
        await asyncio.sleep(self.backoff.next_delay())
        if generation == self._generation and self.wanted:
            self.process = None
            await self.start()

    async def _read(self, process):
        async for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.output.append(line)
            if "\terror\t" in line or line.startswith("Error:"):
                output_logger.warning("%s", line)
            else:
                output_logger.debug("%s", line)
            if READY_MARKER in line and not self.ready.is_set():
                self.ready.set()
                # last_error says what is wrong now (OpAMP: set when unhealthy); the portal dates and keeps the old one.
                self.last_error = ""
                self.on_change()


def die_with_parent():
    """In the collector's process before exec: SIGTERM it when the supervisor dies (Linux).

    Without it a supervisor killed with SIGKILL (or by the OOM killer) would leave an unmanaged
    collector behind, and the next supervisor would start a second one on the same ports.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: a clean stop (SIGTERM to the supervisor) still stops the collector


async def run_command(*args, timeout=60) -> tuple[int, str]:
    """(exit code, combined output) of a short command such as `<collector> validate`."""
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{args[0]} {args[1]} did not finish within {timeout}s"
    return process.returncode, out.decode("utf-8", errors="replace")


async def validate(binary, config_path, timeout=60) -> tuple[bool, str]:
    """`<collector> validate --config <path>`: (True, "") or (False, the collector's error text)."""
    code, out = await run_command(str(binary), "validate", "--config", str(config_path), timeout=timeout)
    if code == 0:
        return True, ""
    return False, error_text(out) or f"validate exited with code {code}"


async def list_components(binary, timeout=30) -> Components:
    code, out = await run_command(str(binary), "components", timeout=timeout)
    if code != 0:
        raise RuntimeError(f"`{binary} components` failed: {out.strip()[:500]}")
    return Components.parse(out)


def is_executable(path) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)
