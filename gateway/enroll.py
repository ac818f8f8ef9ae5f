"""First start: trade the registration token for an OpAMP token (`POST /api/v1/gateways/register`).

Later starts reuse the identity saved in the state directory and never need the registration
token again (docs/gateway.md). Network errors, 5xx, 429 are retried with backoff (honouring
Retry-After); 400, 401, 409 are final: retrying would not change the answer.
"""

import json
import logging
import time
import urllib.error
import urllib.request

from gateway import __version__
from gateway.backoff import Backoff, parse_retry_after
from gateway.state import Identity, StateDir

logger = logging.getLogger(__name__)

REGISTER_PATH = "/api/v1/gateways/register"
TIMEOUT_SECONDS = 15


class EnrollmentError(Exception):
    """Enrollment was refused for good (bad token, invalid request, name clash)."""


class Stopped(Exception):
    """The supervisor was asked to stop while waiting to retry."""


class RetryLater(Exception):
    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


def request_body(settings, identity: Identity, agent_version: str) -> dict:
    return {
        "name": settings.name,
        "hostname": settings.hostname,
        "mode": settings.mode,
        "instance_uid": identity.instance_uid,
        "tags": list(settings.tags),
        "agent_type": "flowgate-gateway",
        "agent_version": agent_version or __version__,
    }


def post_registration(portal_url: str, token: str, body: dict) -> dict:
    """One enrollment request; the decoded answer. EnrollmentError or RetryLater otherwise."""
    request = urllib.request.Request(  # noqa: S310  (the portal URL is the operator's setting)
        portal_url + REGISTER_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = _detail(error)
        if error.code in (429, 502, 503, 504) or error.code >= 500:
            raise RetryLater(f"HTTP {error.code}: {detail}", parse_retry_after(error.headers.get("Retry-After")))
        raise EnrollmentError(f"enrollment refused (HTTP {error.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise RetryLater(f"cannot reach {portal_url}: {getattr(error, 'reason', error)}") from None


def _detail(error) -> str:
    try:
        data = json.loads(error.read() or b"{}")
    except ValueError:
        return error.reason or ""
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return json.dumps(data)[:500]


def enroll(settings, state: StateDir, *, agent_version="", attempts=None, sleep=time.sleep) -> Identity:
    """Enroll and save the identity (0600). Retries transient failures `attempts` times (None: forever)."""
    if not settings.registration_token:
        raise EnrollmentError(
            "no identity in the state directory and no registration token: "
            "pass --registration-token (or FLOWGATE_REGISTRATION_TOKEN) for the first start"
        )
    if not settings.portal_url:
        raise EnrollmentError("the portal URL is not set (--portal-url or FLOWGATE_PORTAL_URL)")
    identity = state.new_identity()
    body = request_body(settings, identity, agent_version)
    backoff = Backoff(initial=1, maximum=60)
    tried = 0
    while True:
        tried += 1
        try:
            answer = post_registration(settings.portal_url, settings.registration_token, body)
            break
        except RetryLater as error:
            if attempts is not None and tried >= attempts:
                raise EnrollmentError(f"enrollment failed after {tried} attempts: {error}") from None
            delay = backoff.next_delay(error.retry_after)
            logger.warning("enrollment failed (%s); retrying in %.1fs", error, delay)
            sleep(delay)
    identity = identity_from_answer(identity, answer, settings.portal_url)
    state.save_identity(identity)
    logger.info("enrolled as gateway %s (%s) in %s", identity.name, identity.gateway_id, identity.organization)
    return identity


def identity_from_answer(identity: Identity, answer: dict, portal_url: str) -> Identity:
    endpoints = answer.get("opamp_endpoints") or {}
    uid = (answer.get("instance_uid") or identity.instance_uid).replace("-", "")
    return Identity(
        instance_uid=uid,
        gateway_id=str(answer["gateway_id"]),
        name=answer.get("name", ""),
        organization=answer.get("organization", ""),
        opamp_token=answer["opamp_token"],
        opamp_token_expires_at=answer.get("opamp_token_expires_at", ""),
        opamp_ws_url=endpoints.get("ws", ""),
        opamp_http_url=endpoints.get("http", ""),
        portal_url=portal_url,
        heartbeat_interval_seconds=int(answer.get("heartbeat_interval_seconds") or 30),
    )
