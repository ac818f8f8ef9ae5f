"""The agent side of OpAMP: one connection to the portal, over WebSocket or plain-HTTP polling.

What it does, by the spec (shared/reference/opamp-spec/specification.md):
- The first message of a connection is a status report; later messages carry only the status
  parts that changed (status compression) plus `sequence_num`, incremented for every message.
  When the server sets ReportFullState every part is sent again; ReportAvailableComponents
  makes the next report carry the full component map (otherwise only its hash).
- Heartbeats: an AgentToServer with nothing new, `heartbeat` seconds after the last message
  (WebSocket), or a poll at that interval (HTTP). The server's ConnectionSettingsOffers may set
  the interval.
- Connection settings (spec: OpAMP Connection Setting Offer Flow), when the agent can save them
  (`save_connection`): the client announces AcceptsOpAMPConnectionSettings and
  ReportsConnectionSettingsStatus. The offer's `destination_endpoint` (the spec makes it
  mandatory; our server names the address we reach it through) is compared with the current
  endpoint: the same URL (default ports and a trailing slash aside) changes nothing. A different
  one, or an `Authorization: Bearer <token>` header other than ours, is saved as the candidate
  (agent.save_connection, one atomic write of both) and the client reconnects with it at once
  (over HTTP the next request uses it and carries APPLYING). The transport stays ours: a
  WebSocket client uses the ws/wss form of the endpoint, an HTTP one the http/https form. When
  the connection works, the candidate becomes the current settings (saved) and APPLIED is
  reported; when the server refuses the token (401) or the new endpoint cannot be reached, it is
  dropped, the client goes back to the old settings and reports FAILED with the reason. An
  endpoint that is not a ws/wss/http/https URL, or that would drop TLS, is refused at once
  (FAILED), token and all. A candidate found at start (a crash mid-way) is tried first, the
  same way. Agents that cannot save settings only take the heartbeat interval.
- Own metrics (spec: Own Telemetry Reporting), when the agent can use them (`on_own_metrics`): the
  client announces ReportsOwnMetrics (with ReportsConnectionSettingsStatus) and hands every new
  `own_metrics` offer to the agent, reporting APPLYING while it applies them (the supervisor
  rewrites and restarts the collector), then APPLIED, or FAILED with the agent's reason.
- A reply triggers a message only when something changed (no echo loops).
- Reconnects with exponential backoff and jitter; UNAVAILABLE (RetryInfo), HTTP 429/503 and
  their Retry-After set the wait instead. `transport="auto"` starts on WebSocket and switches to
  HTTP polling for good when the server refuses the WebSocket upgrade itself.
- Stop: a last message with `agent_disconnect`, then the WebSocket close handshake.

The agent (the supervisor) supplies the status parts and handles remote configs and commands
through the small `agent` interface described on OpAMPClient.
"""

import asyncio
import contextlib
import logging
import time
import urllib.error
import urllib.request
import zlib

import websockets
from websockets.asyncio.client import connect

from gateway.backoff import Backoff, parse_retry_after
from gateway.endpoints import endpoint_form, endpoint_problem, same_endpoint
from gateway.state import uid_text
from opamp_core import framing
from opamp_core.proto import opamp_pb2

logger = logging.getLogger(__name__)

STATUS_PARTS = (
    "agent_description",
    "health",
    "effective_config",
    "remote_config_status",
    "available_components",
    "connection_settings_status",
)
REPORT_FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
REPORT_AVAILABLE_COMPONENTS = opamp_pb2.ServerToAgentFlags_ReportAvailableComponents
UNAVAILABLE = opamp_pb2.ServerErrorResponseType_Unavailable
MAX_MESSAGE_BYTES = framing.DEFAULT_MAX_MESSAGE_BYTES
HTTP_TIMEOUT = 30
# Status codes of a WebSocket handshake that mean "this server does not do WebSocket here".
UPGRADE_REFUSED = {400, 404, 405, 426, 501}


class Refused(Exception):
    """The server refused our token (HTTP 401): retrying helps only once the token is fixed."""


class Unavailable(Exception):
    """The server is overloaded (UNAVAILABLE, 429, 503): reconnect after `retry_after` seconds."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class UpgradeRefused(Exception):
    """The WebSocket handshake was answered with a plain HTTP status (no WebSocket support there)."""


class SwitchToken(Exception):
    """End this connection and reconnect at once, with the candidate settings or back with the old ones."""


# What the client itself does for agents that can save connection settings (agent.save_connection).
TOKEN_CAPABILITIES = (
    opamp_pb2.AgentCapabilities_AcceptsOpAMPConnectionSettings
    | opamp_pb2.AgentCapabilities_ReportsConnectionSettingsStatus
)
SETTINGS_APPLIED = opamp_pb2.ConnectionSettingsStatuses_APPLIED
SETTINGS_APPLYING = opamp_pb2.ConnectionSettingsStatuses_APPLYING
SETTINGS_FAILED = opamp_pb2.ConnectionSettingsStatuses_FAILED
# Answers to a handshake or request with a candidate token that mean "this token is refused".
TOKEN_REFUSED = {401, 403}
# What the client announces for agents that apply own_metrics offers (agent.on_own_metrics).
OWN_METRICS_CAPABILITIES = (
    opamp_pb2.AgentCapabilities_ReportsOwnMetrics | opamp_pb2.AgentCapabilities_ReportsConnectionSettingsStatus
)


def offered_token(opamp) -> str:
    """The token of an OpAMPConnectionSettings' `Authorization: Bearer …` header, or ''."""
    for header in opamp.headers.headers:
        if header.key.lower() == "authorization":
            scheme, _, value = header.value.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
    return ""


class OpAMPClient:
    """One OpAMP client. `agent` provides:

    capabilities (int), agent_description(), health(), effective_config(), remote_config_status(),
    available_components(full: bool) -> the protobuf sub-message, or None to leave it out;
    async on_remote_config(AgentRemoteConfig), async on_restart(), on_new_instance_uid(bytes);
    optionally save_connection(token, candidate, candidate_url="", urls=None): persist, in one
    atomic write, the OpAMP token, a candidate token, a candidate endpoint and (urls, when not
    None) the new (ws_url, http_url) — the client then takes connection settings offered over
    OpAMP (see the module docstring); optionally on_own_metrics(TelemetryConnectionSettings): ''
    when nothing changes, the reason they cannot be used, or an awaitable that applies them and
    gives '' or the reason they failed.
    """

    def __init__(
        self,
        agent,
        *,
        instance_uid,
        token,
        candidate_token="",
        candidate_url="",
        ws_url="",
        http_url="",
        transport="websocket",
        heartbeat=30.0,
    ):
        self.agent = agent
        self.uid = bytes(instance_uid)
        self.token = token
        self.takes_tokens = callable(getattr(agent, "save_connection", None))
        self.takes_own_metrics = callable(getattr(agent, "on_own_metrics", None))
        self.candidate = candidate_token if self.takes_tokens else ""
        self.candidate_url = candidate_url if self.takes_tokens else ""  # an offered endpoint being tried
        self.settings_status = SETTINGS_APPLIED
        self.settings_error = ""
        self.switching = False  # a candidate was offered on this connection: reconnect now
        self.ws_url = ws_url
        self.http_url = http_url
        self.transport = "http" if transport == "http" else "websocket"
        self.fallback_to_http = transport == "auto"
        self.heartbeat = heartbeat
        self.backoff = Backoff(initial=1, maximum=60)
        self.sequence_num = 0
        self.dirty = set(STATUS_PARTS)  # parts not yet sent (all of them before the first report)
        self.full_components = False
        self.settings_hash = b""
        self.connected = False
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.messages_sent = 0
        self._tasks = set()

    # The agent's side

    def report(self, *parts) -> None:
        """These status parts changed: send them at the next opportunity."""
        self.dirty.update(parts)
        self.wake.set()

    async def stop(self, run_task, timeout=5.0) -> None:
        """Say goodbye (AgentDisconnect) and end run(); gives up after `timeout` seconds."""
        self.stopping.set()
        self.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(run_task), timeout)
        except TimeoutError:
            run_task.cancel()

    # Messages

    @property
    def capabilities(self) -> int:
        capabilities = self.agent.capabilities | (TOKEN_CAPABILITIES if self.takes_tokens else 0)
        if self.takes_own_metrics:
            capabilities |= OWN_METRICS_CAPABILITIES
        return capabilities

    def build(self, parts, *, disconnect=False) -> opamp_pb2.AgentToServer:
        self.sequence_num += 1
        message = opamp_pb2.AgentToServer(
            instance_uid=self.uid, sequence_num=self.sequence_num, capabilities=self.capabilities
        )
        for part in parts:
            value = self._part(part)
            if value is not None:
                getattr(message, part).CopyFrom(value)
        if disconnect:
            message.agent_disconnect.SetInParent()
        return message

    def _part(self, part):
        if part == "available_components":
            full, self.full_components = self.full_components, False
            return self.agent.available_components(full)
        if part == "connection_settings_status":
            if not self.settings_hash:
                return None
            return opamp_pb2.ConnectionSettingsStatus(
                last_connection_settings_hash=self.settings_hash,
                status=self.settings_status,
                error_message=self.settings_error,
            )
        return getattr(self.agent, part)()

    def next_message(self, *, disconnect=False) -> opamp_pb2.AgentToServer:
        parts = sorted(self.dirty)
        self.dirty.clear()
        self.wake.clear()
        self.messages_sent += 1
        return self.build(parts, disconnect=disconnect)

    async def handle(self, reply: opamp_pb2.ServerToAgent) -> None:
        """React to one ServerToAgent; marks what must be reported next (nothing when nothing changed)."""
        if reply.HasField("error_response"):
            self._server_error(reply.error_response)
            return
        self.backoff.reset()
        new_uid = bytes(reply.agent_identification.new_instance_uid)
        if new_uid and new_uid != self.uid:
            logger.info("the server assigned instance_uid %s", uid_text(new_uid))
            self.uid = new_uid
            self.agent.on_new_instance_uid(new_uid)
            self.report(*STATUS_PARTS)
        if reply.flags & REPORT_FULL_STATE:
            self.report(*STATUS_PARTS)
        if reply.flags & REPORT_AVAILABLE_COMPONENTS:
            self.full_components = True
            self.report("available_components")
        if reply.HasField("connection_settings"):
            self._adopt_settings(reply.connection_settings)
        if reply.HasField("remote_config"):
            self._spawn(self.agent.on_remote_config(reply.remote_config))
        if reply.HasField("command") and reply.command.type == opamp_pb2.CommandType_Restart:
            self._spawn(self.agent.on_restart())

    def _server_error(self, error) -> None:
        if error.type == UNAVAILABLE:
            retry = error.retry_info.retry_after_nanoseconds / 1e9 if error.HasField("retry_info") else None
            raise Unavailable(f"server unavailable: {error.error_message}", retry or None)
        # BAD_REQUEST (or unknown): the spec says not to resend that message; log and go on.
        logger.error("the server refused a message: %s", error.error_message)

    def _adopt_settings(self, offers) -> None:
        token = endpoint = ""
        if offers.HasField("opamp"):
            opamp = offers.opamp
            if opamp.heartbeat_interval_seconds:
                self.heartbeat = float(opamp.heartbeat_interval_seconds)
                logger.info("heartbeat interval set by the server: %ss", opamp.heartbeat_interval_seconds)
            if self.takes_tokens:
                token, endpoint = offered_token(opamp), opamp.destination_endpoint
        new_hash = bytes(offers.hash) != self.settings_hash
        if offers.hash and new_hash:
            self.settings_hash = bytes(offers.hash)
        problem = endpoint_problem(endpoint, self.current_url) if endpoint else ""
        if problem:
            if new_hash:
                logger.error("refusing the offered OpAMP connection settings: %s", problem)
                self.settings_status, self.settings_error = SETTINGS_FAILED, problem
                self.report("connection_settings_status")
            return
        new_token = token if token and token not in (self.token, self.candidate) else ""
        new_url = endpoint if endpoint and not self._known_endpoint(endpoint) else ""
        if new_token or new_url:
            # Saved before anything else: a crash from here on retries it at the next start.
            self.candidate = new_token or self.candidate
            self.candidate_url = new_url or self.candidate_url
            self.agent.save_connection(self.token, self.candidate, candidate_url=self.candidate_url)
            if new_url:
                logger.info(
                    "the server offered the OpAMP endpoint %s (now %s): saved, reconnecting to it",
                    new_url,
                    self.current_url,
                )
            if new_token:
                logger.info("the server offered a new OpAMP token: saved, reconnecting with it")
            self.settings_status, self.settings_error = SETTINGS_APPLYING, ""
            self.switching = True
        elif new_hash:
            self.settings_status, self.settings_error = SETTINGS_APPLIED, ""
        if new_hash and offers.HasField("own_metrics") and self.takes_own_metrics:
            self._take_own_metrics(offers.own_metrics, bytes(offers.hash))
        if new_hash or self.switching:
            self.report("connection_settings_status")

    def _take_own_metrics(self, settings, offer_hash: bytes) -> None:
        """Hand an own_metrics offer to the agent; its outcome is this offer's status (unless a newer one came)."""
        outcome = self.agent.on_own_metrics(settings)
        if isinstance(outcome, str):
            if outcome:
                logger.error("refusing the offered own_metrics settings: %s", outcome)
                self.settings_status, self.settings_error = SETTINGS_FAILED, outcome
            return
        if not self.switching:
            self.settings_status, self.settings_error = SETTINGS_APPLYING, ""

        async def finish():
            error = await outcome
            if self.settings_hash != offer_hash:
                return  # a newer offer: its own outcome counts
            if error:
                self.settings_status, self.settings_error = SETTINGS_FAILED, error
            elif self.candidate or self.candidate_url:
                return  # the OpAMP switch under way reports for the offer
            else:
                self.settings_status, self.settings_error = SETTINGS_APPLIED, ""
            self.report("connection_settings_status")

        self._spawn(finish())

    @property
    def current_url(self) -> str:
        """The endpoint this client connects to when no candidate is being tried."""
        return self.http_url if self.transport == "http" else self.ws_url

    def target_url(self) -> str:
        """The endpoint of the next connection: the candidate's when one is being tried."""
        if self.candidate_url:
            return endpoint_form(self.candidate_url, self.transport)
        return self.current_url

    def _known_endpoint(self, endpoint: str) -> bool:
        """The offered endpoint is the current one, or the candidate already being tried."""
        form = endpoint_form(endpoint, self.transport)
        if same_endpoint(form, self.current_url):
            return True
        return bool(self.candidate_url) and same_endpoint(form, endpoint_form(self.candidate_url, self.transport))

    def _connected_with(self, token, url="") -> None:
        """The server accepted `token` at `url`: candidates become the settings (saved), APPLIED is reported."""
        url = url or self.target_url()
        takes_url = bool(self.candidate_url) and url == self.target_url()
        takes_token = bool(self.candidate) and token == self.candidate
        if not (takes_url or takes_token):
            return
        urls = None
        if takes_url:
            previous = self.current_url
            self.ws_url = endpoint_form(self.candidate_url, "websocket")
            self.http_url = endpoint_form(self.candidate_url, "http")
            urls = (self.ws_url, self.http_url)
            logger.info("connected to the new OpAMP endpoint %s; %s is forgotten", url, previous)
        if takes_token:
            self.token = token
            logger.info("connected with the new OpAMP token; the old one is forgotten")
        self.candidate, self.candidate_url, self.switching = "", "", False
        self.agent.save_connection(self.token, "", candidate_url="", urls=urls)
        self.settings_status, self.settings_error = SETTINGS_APPLIED, ""
        self.report("connection_settings_status")

    def _candidate_refused(self, status) -> None:
        """The server refused the candidate token: back to the old settings; FAILED is reported."""
        self._candidate_failed(f"the server refused the offered token (HTTP {status})")

    def _endpoint_failed(self, url, reason) -> None:
        """A connection to `url` failed: if it was an offered endpoint, back to the old one (SwitchToken)."""
        if self.candidate_url and url == self.target_url():
            self._candidate_failed(f"could not connect to the offered endpoint {url}: {reason}")
            raise SwitchToken()

    def _candidate_failed(self, reason) -> None:
        """The candidate settings did not work: back to the old ones; FAILED (with `reason`) on the next connection."""
        logger.error("the offered OpAMP connection settings failed (%s); going back to the previous ones", reason)
        self.candidate, self.candidate_url = "", ""
        self.agent.save_connection(self.token, "", candidate_url="")
        self.settings_status = SETTINGS_FAILED
        self.settings_error = reason
        self.report("connection_settings_status")

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("agent callback failed", exc_info=task.exception())

    # Connection loop

    async def run(self) -> None:
        """Stay connected until stop(): reconnect with backoff, honour Retry-After."""
        while not self.stopping.is_set():
            delay = 0.0
            try:
                if self.transport == "http":
                    await self._http_session()
                else:
                    await self._ws_session()
            except SwitchToken:
                delay = 0.0
            except Refused as error:
                delay = self.backoff.next_delay()
                logger.error("OpAMP token refused (%s); re-enroll with --re-enroll. Retrying in %.0fs", error, delay)
            except Unavailable as error:
                delay = self.backoff.next_delay(error.retry_after)
                logger.warning("%s; reconnecting in %.1fs", error, delay)
            except UpgradeRefused as error:
                delay = self._upgrade_refused(error)
            except (OSError, TimeoutError, websockets.WebSocketException, framing.FramingError) as error:
                delay = self.backoff.next_delay()
                logger.warning(
                    "OpAMP connection lost (%s); reconnecting in %.1fs", error or type(error).__name__, delay
                )
            finally:
                self.connected = False
                self.switching = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    def _upgrade_refused(self, error) -> float:
        if self.fallback_to_http and self.http_url:
            logger.warning("%s; switching to plain-HTTP polling", error)
            self.transport = "http"
            return 0.0
        delay = self.backoff.next_delay()
        logger.error("%s; retrying in %.1fs", error, delay)
        return delay

    # WebSocket

    async def _ws_session(self) -> None:
        token, url = self.candidate or self.token, self.target_url()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            ws = await connect(url, additional_headers=headers, max_size=MAX_MESSAGE_BYTES, open_timeout=15)
        except websockets.InvalidStatus as error:
            status = error.response.status_code
            if token == self.candidate and status in TOKEN_REFUSED:
                self._candidate_refused(status)
                raise SwitchToken() from None
            self._endpoint_failed(url, f"HTTP {status}")
            raise _status_error(status, error.response.headers.get("Retry-After")) from None
        except (OSError, TimeoutError, websockets.WebSocketException) as error:
            self._endpoint_failed(url, str(error) or type(error).__name__)
            raise
        logger.info("OpAMP connected over WebSocket to %s", url)
        self.connected = True
        self._connected_with(token, url)
        self.dirty.add("agent_description")  # the first message of a connection is a status report
        receiver = asyncio.ensure_future(self._ws_receive(ws))
        try:
            await self._ws_send_loop(ws, receiver)
        finally:
            receiver.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _ws_send_loop(self, ws, receiver) -> None:
        last_sent = 0.0
        while True:
            if self.stopping.is_set():
                await ws.send(framing.encode(self.next_message(disconnect=True), MAX_MESSAGE_BYTES))
                logger.info("sent AgentDisconnect")
                return
            if self.switching:
                # Reconnect with the candidate now. APPLYING is not sent on this connection: the
                # server could store it after the new connection's APPLIED (two connections of
                # one gateway write in no set order), leaving the gateway shown as "applying".
                raise SwitchToken()
            if self.dirty or time.monotonic() - last_sent >= self.heartbeat:
                await ws.send(framing.encode(self.next_message(), MAX_MESSAGE_BYTES))
                last_sent = time.monotonic()
            waiter = asyncio.ensure_future(self.wake.wait())
            timeout = max(0.0, last_sent + self.heartbeat - time.monotonic())
            await asyncio.wait({waiter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if receiver.done():
                receiver.result()  # raises what ended the connection
                raise ConnectionError("the server closed the connection")

    async def _ws_receive(self, ws) -> None:
        async for data in ws:
            if isinstance(data, str):
                logger.error("ignoring a text frame from the server")
                continue
            await self.handle(framing.decode(data, opamp_pb2.ServerToAgent, MAX_MESSAGE_BYTES))

    # Plain HTTP

    async def _http_session(self) -> None:
        self.dirty.add("agent_description")
        while True:
            disconnect = self.stopping.is_set()
            # Every request is a connection of its own: a candidate is simply used from the next one on.
            self.switching = False
            message = self.next_message(disconnect=disconnect)
            token, url = self.candidate or self.token, self.target_url()
            try:
                reply = await asyncio.to_thread(self._post, message, token)
            except Refused:
                if token != self.candidate:
                    self._endpoint_failed(url, "HTTP 401")
                    raise
                self._candidate_refused(401)
                raise SwitchToken() from None
            except (Unavailable, OSError, TimeoutError, framing.FramingError) as error:
                self._endpoint_failed(url, str(error) or type(error).__name__)
                raise
            self.connected = True
            self._connected_with(token, url)
            if disconnect:
                logger.info("sent AgentDisconnect")
                return
            if reply is not None:
                await self.handle(reply)
            if not self.dirty:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.heartbeat)

    def _post(self, message, token):
        """POST one AgentToServer with `token`; the ServerToAgent (None when the server refused the body, 413)."""
        request = urllib.request.Request(  # noqa: S310  (the endpoint is the portal's: enrollment or its offer)
            self.target_url(),
            data=message.SerializeToString(),
            method="POST",
            headers={
                "Content-Type": "application/x-protobuf",
                "Authorization": f"Bearer {token}",
                "OpAMP-Instance-UID": uid_text(self.uid),
                "Accept-Encoding": "gzip",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
                return self._read_reply(response.read(MAX_MESSAGE_BYTES + 1), response.headers)
        except urllib.error.HTTPError as error:
            if error.code == 400:
                return self._read_reply(error.read(MAX_MESSAGE_BYTES + 1), error.headers)
            if error.code == 413:
                logger.error("the server refused a message as too large; it is not resent")
                return None
            raise _status_error(error.code, error.headers.get("Retry-After")) from None

    def _read_reply(self, body, headers):
        if headers.get("Content-Encoding", "").lower() == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, MAX_MESSAGE_BYTES + 1)
        return framing.parse(body, opamp_pb2.ServerToAgent, MAX_MESSAGE_BYTES)


def _status_error(status: int, retry_after_header) -> Exception:
    if status == 401:
        return Refused("HTTP 401")
    if status in (429, 503):
        return Unavailable(f"server answered HTTP {status}", parse_retry_after(retry_after_header))
    if status in UPGRADE_REFUSED:
        return UpgradeRefused(f"the server answered the WebSocket handshake with HTTP {status}")
    return ConnectionError(f"server answered HTTP {status}")
