"""The supervisor: enrollment, the collector, its configs and the OpAMP client, tied together.

Supervisor mode runs the collector and is its OpAMP agent (report.SUPERVISOR_CAPABILITIES).
Extension mode leaves OpAMP to the collector's own opamp extension and only runs the
heartbeat service (gateway.heartbeat). Both stop cleanly on SIGTERM/SIGINT: AgentDisconnect
is sent, then the collector is stopped.
"""

import asyncio
import logging
import signal
import threading
import urllib.request

from gateway import enroll, own_metrics, report
from gateway.collector import Collector, Components, is_executable, list_components
from gateway.configs import ConfigError, ConfigManager
from gateway.heartbeat import HeartbeatService
from gateway.local_opamp import LocalOpAMPServer, with_opamp_extension
from gateway.opamp_client import OpAMPClient
from gateway.state import RemoteConfigState, StateDir, token_expiry, uid_text

logger = logging.getLogger(__name__)

METRICS_TIMEOUT = 5
METRICS_PERIOD = 10  # seconds between checks of the collector's metrics endpoint


class Supervisor:
    """One run of `python -m gateway` with checked settings (gateway.config.Settings)."""

    capabilities = report.SUPERVISOR_CAPABILITIES

    def __init__(self, settings):
        self.settings = settings
        self.state = StateDir(settings.state_dir)
        self.stop_event = asyncio.Event()
        self.stopped = threading.Event()  # the same, for code running in worker threads
        self.apply_lock = asyncio.Lock()
        self.components = Components(version="", kinds={})
        self.remote = RemoteConfigState()
        self.client = None
        self.collector = None
        self.configs = None
        self.local = None  # LocalOpAMPServer, when the collector has the opamp extension
        self.identity = None
        self.metrics_error = None  # None: not checked; "": reachable; text: why not
        self.own_metrics = None  # own_metrics.OwnMetrics offered by the portal: the reader in every config

    # Start and stop

    async def run(self) -> int:
        self._install_signal_handlers()
        self.identity = await asyncio.to_thread(self._identity)
        if self.identity is None:
            return 0  # stopped while enrolling
        if self.settings.mode == "extension":
            return await self._run_extension_mode()
        return await self._run_supervisor_mode()

    def _identity(self):
        if self.settings.re_enroll:
            self.state.forget_identity()
        identity = self.state.load_identity()
        if identity is not None and identity.enrolled:
            logger.info("using the saved identity of gateway %s (%s)", identity.name, identity.gateway_id)
            return identity
        try:
            return enroll.enroll(self.settings, self.state, sleep=self._sleep_unless_stopped)
        except enroll.Stopped:
            return None

    def _sleep_unless_stopped(self, seconds):
        """Sleep of the enrollment retries (a worker thread): wakes up and gives up on SIGTERM."""
        if self.stopped.wait(seconds):
            raise enroll.Stopped()

    def _install_signal_handlers(self):
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._request_stop)

    def _request_stop(self):
        self.stop_event.set()
        self.stopped.set()

    async def _run_extension_mode(self) -> int:
        service = HeartbeatService(self.settings, self.identity)
        task = asyncio.ensure_future(service.run(self.stop_event))
        await self.stop_event.wait()
        await asyncio.wait({task}, timeout=10)
        return 0

    async def _run_supervisor_mode(self) -> int:
        binary = self.settings.collector
        if not is_executable(binary):
            raise ConfigError(f"no executable collector at {binary!r}: set --collector or FLOWGATE_COLLECTOR")
        self.components = await list_components(binary)
        self.collector = Collector(binary, self.state.collector_dir / "config.yaml", on_change=self._health_changed)
        local = await self._start_local_endpoint()
        self.own_metrics = own_metrics.load(self.state.path)

        def extend(config):
            """What the supervisor adds to every config: the local OpAMP extension, the own-metrics reader."""
            return own_metrics.with_reader(local(config) if local else config, self.own_metrics)

        self.configs = ConfigManager(
            self.state,
            self.collector,
            base_path=self.settings.base_config,
            apply_timeout=self.settings.apply_timeout,
            extend=extend,
        )
        self.configs.base()  # an unreadable base config is the operator's error: stop now, with its message
        self.remote = self.state.load_remote_config()
        self.client = self._new_client()
        client_task = asyncio.ensure_future(self.client.run())
        helpers = [asyncio.ensure_future(self._start_collector())]
        if self.settings.metrics_url:
            helpers.append(asyncio.ensure_future(self._watch_metrics()))
        await self.stop_event.wait()
        logger.info("stopping")
        for task in helpers:
            task.cancel()
        await self.client.stop(client_task)
        await self.collector.stop()
        if self.local is not None:
            await self.local.stop()
        return 0

    async def _start_local_endpoint(self):
        """Serve the local OpAMP endpoint if the collector can use it; the config extension for it, or None."""
        port = self.settings.local_opamp_port
        if not port or "opamp" not in self.components.kinds.get("extensions", {}):
            return None
        self.local = LocalOpAMPServer(port, on_change=self._health_changed)
        await self.local.start()
        uid = uid_text(self.identity.uid_bytes)
        return lambda config: with_opamp_extension(config, self.local.port, uid)

    def _new_client(self) -> OpAMPClient:
        identity, settings = self.identity, self.settings
        ws_url, http_url = identity.opamp_ws_url, identity.opamp_http_url
        if settings.opamp_url:
            http_url = settings.opamp_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
            ws_url = http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return OpAMPClient(
            self,
            instance_uid=identity.uid_bytes,
            token=identity.opamp_token,
            candidate_token=identity.opamp_token_candidate,
            candidate_url=identity.opamp_url_candidate,
            ws_url=ws_url,
            http_url=http_url,
            transport=settings.transport,
            heartbeat=settings.heartbeat_interval,
        )

    async def _start_collector(self):
        async with self.apply_lock:
            if self.remote.status == "applying":
                # We stopped in the middle of applying it: finish the job (the server will not resend it).
                await self._apply(self.remote.yaml, self.remote.hash)
                return
            result = await self.configs.start(self.remote)
            if not result.ok:
                logger.info("collector not running: %s", result.error)
            self._report_config()

    # The OpAMP agent interface (see OpAMPClient)

    def agent_description(self):
        return report.agent_description(
            service_name=self.components.command or "otelcol-contrib",
            service_version=self.components.version,
            instance_uid_text=uid_text(self.client.uid),
            hostname=self.settings.hostname,
            mode=self.settings.mode,
        )

    def health(self):
        collector = self.collector
        attributes = {"collector.pid": collector.pid, "collector.restarts": collector.restarts}
        if collector.running:
            ok, status = collector.ready.is_set(), "running" if collector.ready.is_set() else "starting"
        elif collector.wanted:
            ok, status = False, "restarting after a crash"
        elif self.configs.effective_config():
            ok, status = False, "stopped"
        else:
            ok, status = True, "waiting for a configuration"
        parts = {
            "collector": report.component_health(
                healthy=ok,
                status=status,
                last_error=collector.last_error,
                start_time_ns=collector.started_at_ns if collector.running else 0,
                attributes=attributes,
            )
        }
        if self.local is not None and self.local.health is not None and collector.running:
            parts["collector"].component_health_map["reported_by_collector"].CopyFrom(self.local.health)
            parts["collector"].healthy = parts["collector"].healthy and self.local.health.healthy
        if self.metrics_error is not None:
            parts["metrics"] = report.component_health(
                healthy=not self.metrics_error,
                status="reachable" if not self.metrics_error else "unreachable",
                last_error=self.metrics_error,
                attributes={"url": self.settings.metrics_url},
            )
        healthy = all(part.healthy for part in parts.values())
        return report.component_health(
            healthy=healthy,
            status=status,
            last_error=collector.last_error,
            start_time_ns=collector.started_at_ns if collector.running else 0,
            attributes=attributes,
            components=parts,
        )

    def effective_config(self):
        return report.effective_config(self.configs.effective_config())

    def remote_config_status(self):
        return report.remote_config_status(self.remote.hash, self.remote.status, self.remote.error)

    def available_components(self, full):
        return report.available_components(self.components.kinds, full=full)

    def on_new_instance_uid(self, uid: bytes):
        self.identity.instance_uid = uid.hex()
        self.state.save_identity(self.identity)

    def save_connection(self, token: str, candidate: str, candidate_url: str = "", urls=None):
        """Connection settings offered over OpAMP (OpAMPClient): the token, the candidate token and
        endpoint being switched to, and the endpoints once a new one worked, in one atomic write."""
        if token != self.identity.opamp_token:
            self.identity.opamp_token_expires_at = token_expiry(token)
        self.identity.opamp_token, self.identity.opamp_token_candidate = token, candidate
        self.identity.opamp_url_candidate = candidate_url
        if urls is not None:
            self.identity.opamp_ws_url, self.identity.opamp_http_url = urls
        self.state.save_identity(self.identity)

    async def on_remote_config(self, remote_config):
        hash_hex = bytes(remote_config.config_hash).hex()
        files = remote_config.config.config_map
        body = files[""].body if "" in files else b"".join(files[name].body + b"\n" for name in sorted(files))
        async with self.apply_lock:
            if hash_hex == self.remote.hash and self.remote.status in ("applied", "failed"):
                self.client.report("remote_config_status")  # already done: say so again
                return
            await self._apply(body.decode("utf-8", errors="replace"), hash_hex)

    def on_own_metrics(self, settings):
        """The portal offered own_metrics settings (OpAMPClient): '' when nothing changes, the reason when they
        cannot be used, else a coroutine that applies them and gives '' or the reason they failed."""
        try:
            offered = own_metrics.from_offer(settings)
        except ValueError as error:
            return str(error)
        if offered == self.own_metrics:
            return ""
        return self._apply_own_metrics(offered)

    async def _apply_own_metrics(self, offered) -> str:
        previous = self.own_metrics
        # Saved before it is used: from now on every config gets the reader, after a restart too.
        own_metrics.save(self.state.path, offered)
        self.own_metrics = offered
        logger.info(
            "own metrics: pushing the collector's metrics to %s every %ss", offered.endpoint, offered.interval_seconds
        )
        async with self.apply_lock:

            def swap(config):
                return own_metrics.with_reader(own_metrics.without_reader(config, previous), offered)

            result = await self.configs.reapply(swap)
            if not result.ok:
                # The collector did not take it (validate refused the reader, or it did not run healthy): back
                # to the previous settings, which the config rolled back to runs.
                logger.error("the collector did not take the offered metrics reader: %s", result.error)
                own_metrics.save(self.state.path, previous)
                self.own_metrics = previous
        self._report_config()
        return "" if result.ok else f"the collector did not take the metrics reader: {result.error}"

    async def on_restart(self):
        logger.info("restart command received")
        async with self.apply_lock:
            result = await self.configs.restart()
        if not result.ok:
            logger.error("restart failed: %s", result.error)
        self._report_config()

    # Internals

    async def _apply(self, yaml_text: str, hash_hex: str):
        self.remote = RemoteConfigState(hash=hash_hex, status="applying", yaml=yaml_text)
        self.state.save_remote_config(self.remote)
        self.client.report("remote_config_status")
        logger.info("applying remote config %s", hash_hex[:12])
        result = await self.configs.apply_remote(yaml_text)
        self.remote.status = "applied" if result.ok else "failed"
        self.remote.error = result.error
        self.state.save_remote_config(self.remote)
        logger.info("remote config %s %s", hash_hex[:12], self.remote.status)
        self._report_config()

    def _report_config(self):
        self.client.report("remote_config_status", "effective_config", "health")

    def _health_changed(self):
        if self.client is not None:
            self.client.report("health")

    async def _watch_metrics(self):
        while True:
            error = None  # not checked: the endpoint only exists while the collector runs
            if self.collector.running and self.collector.ready.is_set():
                error = await asyncio.to_thread(check_url, self.settings.metrics_url)
            if error != self.metrics_error:
                self.metrics_error = error
                self._health_changed()
            await asyncio.sleep(min(self.client.heartbeat, METRICS_PERIOD))


def check_url(url: str) -> str:
    """'' when GET url answers 2xx within METRICS_TIMEOUT seconds, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=METRICS_TIMEOUT) as response:  # noqa: S310  (operator's URL)
            response.read(1024)
            return ""
    except Exception as error:  # noqa: BLE001  (any failure is "unreachable", with its reason)
        return f"{url}: {error}"
