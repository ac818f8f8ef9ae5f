"""The dated error history of a gateway: every error with when it happened and when it was resolved.

A ComponentHealth's `last_error` and a RemoteConfigStatus's `error_message` say what is wrong
now, without a date, and some agents keep reporting an old `last_error` while healthy. Shown as
they are, a page puts a stale red error next to a green "healthy". This module keeps, for each
gateway, a short list of errors (newest first, at most MAX_ENTRIES), each with:

    {"source": "health" | "remote_config", "component": "collector" (the health component, or the
     remote config hash), "message": "...", "at": ISO time, "resolved_at": ISO time | None,
     "healthy_since": ISO time | None}

Rules (update()):
- a health error opens when an unhealthy component reports it (`at`: the component's
  status_time_unix_nano, else the server's receive time); it is resolved by the first report where
  no unhealthy component reports it any more (`resolved_at`: the report's time);
- an error first seen on a healthy component (a stale last_error) is recorded already resolved;
- a remote config error opens with a FAILED RemoteConfigStatus (`at`: the server's receive time,
  RemoteConfigStatus has no time) and is resolved by a later APPLIED one;
- `healthy_since`, set on resolution when the gateway is healthy, is when its healthy run began
  (the root component's start_time_unix_nano, else the resolution time).

Pure functions over plain data (no Django): protocol.process() calls update() only for messages
that carry health or a remote config status, with the state it already holds (no query).
"""

from datetime import UTC, datetime

MAX_ENTRIES = 10
HEALTH, REMOTE_CONFIG = "health", "remote_config"
# Nanosecond times an agent reports that are not plausible as "now-ish" (0 = unset; before 2000).
EARLIEST_NS = 946_684_800 * 10**9


def update(history: list, *, health: dict | None, remote: tuple | None, now: datetime, current=None) -> list:
    """The history after a report. `health`: the reported health tree (convert.component_health()),
    None when the message has none; `remote`: (status name, config hash, error message) of a reported
    RemoteConfigStatus, else None; `current`: the gateway's health tree after the report (to date
    healthy_since), by default `health`. Returns `history` itself when nothing changed."""
    entries = [dict(entry) for entry in history]
    if health is not None:
        _update_health(entries, health, now)
    if remote is not None:
        _update_remote(entries, remote, health if current is None else current, now)
    entries = entries[:MAX_ENTRIES]
    return history if entries == history else entries


def _update_health(entries: list, health: dict, now: datetime) -> None:
    active, stale = {}, {}
    for path, node in _nodes_with_errors(health):
        message = node["last_error"]
        if not node.get("healthy", True):
            active.setdefault(message, (path, node))
        else:
            stale.setdefault(message, (path, node))
    report_time = _iso(_time(health.get("status_time_unix_nano"), now))
    healthy_since = _healthy_since(health, report_time)
    open_messages = set()
    for entry in entries:
        if entry["source"] != HEALTH or entry["resolved_at"] is not None:
            continue
        if entry["message"] in active:
            open_messages.add(entry["message"])
        else:
            entry["resolved_at"], entry["healthy_since"] = report_time, healthy_since
    known = {entry["message"] for entry in entries if entry["source"] == HEALTH}
    for message, (path, node) in active.items():
        if message not in open_messages:
            at = _iso(_time(node.get("status_time_unix_nano"), now))
            entries.insert(0, _entry(HEALTH, path, message, at))
    for message, (path, node) in stale.items():
        if message not in known and message not in active:
            at = _iso(_time(node.get("status_time_unix_nano"), now))
            entries.insert(0, _entry(HEALTH, path, message, at, resolved_at=at, healthy_since=healthy_since))


def _update_remote(entries: list, remote: tuple, health: dict | None, now: datetime) -> None:
    status, config_hash, message = remote
    at = _iso(now)
    if status == "failed" and message:
        current = [e for e in entries if e["source"] == REMOTE_CONFIG and e["resolved_at"] is None]
        if any(e["message"] == message and e["component"] == config_hash for e in current):
            return
        for entry in current:  # another config failed since: that one is no longer the current error
            entry["resolved_at"], entry["healthy_since"] = at, None
        entries.insert(0, _entry(REMOTE_CONFIG, config_hash, message, at))
    elif status == "applied":
        healthy_since = _healthy_since(health, at) if health else at
        for entry in entries:
            if entry["source"] == REMOTE_CONFIG and entry["resolved_at"] is None:
                entry["resolved_at"], entry["healthy_since"] = at, healthy_since


def _entry(source, component, message, at, *, resolved_at=None, healthy_since=None) -> dict:
    return {
        "source": source,
        "component": component,
        "message": message,
        "at": at,
        "resolved_at": resolved_at,
        "healthy_since": healthy_since,
    }


def _nodes_with_errors(node: dict, path: str = ""):
    """(path, node) of every component of a health tree that reports a last_error, deepest first."""
    for name, child in (node.get("component_health_map") or {}).items():
        yield from _nodes_with_errors(child, f"{path}/{name}" if path else name)
    if node.get("last_error"):
        yield path or "gateway", node


def _healthy_since(health: dict | None, fallback: str) -> str | None:
    if not health or not health.get("healthy", True):
        return None
    start = health.get("start_time_unix_nano") or 0
    return _iso(_time(start, None)) if start >= EARLIEST_NS else fallback


def _time(unix_nano, now: datetime | None) -> datetime | None:
    if unix_nano and unix_nano >= EARLIEST_NS:
        return datetime.fromtimestamp(unix_nano / 1e9, UTC)
    return now


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def parse(value: str | None) -> datetime | None:
    """An ISO time of an entry as an aware datetime (None stays None)."""
    return datetime.fromisoformat(value) if value else None
