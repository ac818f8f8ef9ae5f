"""Health from metrics: the rules that mark a gateway degraded from what its collector reports about itself.

The case this exists for: an exporter failing every batch while OpAMP health said "healthy" (the collector
process is fine, its data goes nowhere). Rules, evaluated per complete minute of a gateway's reports
(docs/telemetry.md "Health from metrics"), per component and signal:

- failing:       an exporter's send_failed + enqueue_failed > 0 in a minute      (data lost after retries)
- refusing:      a receiver's (or processor's) refused + failed > 0 in a minute  (data turned away at the door)
- queue full:    an exporter's sending queue at its capacity in a minute         (the next batches are dropped)
- queue growing: an exporter's queue size larger than the minute before          (it cannot keep up), 3 minutes
                 in a row and at least 5 % of its capacity

Hysteresis, so that one bad batch or a flapping sink does not make the status blink: a problem opens after
OPEN_AFTER consecutive minutes with its condition (3 for a growing queue), and resolves after CLOSE_AFTER
consecutive clean minutes. Only minutes in which the gateway reported something count, either way: a
collector pushing every 5 minutes is judged on its reports, not on the empty minutes between them.

A minute is complete once a report carries a point of a later minute (rollups place each delta at its
point's time, so no later report adds to it). Pure functions over the JSON kept in SeriesState.health:

    {"minutes": {iso minute: {"kind|component|signal": {"ok", "bad", "queue", "queue_peak", "capacity"}}},
     "evaluated": iso of the last minute judged,
     "rules": {"rule|kind|component|signal": {"bad", "good", "open", "since", "n", "of", "q0", "q", "cap", "prev"}},
     "stale": iso of the last report, while no report came for FLOWGATE_TELEMETRY_STALE_SECONDS}

No Django here: rollups.ingest() calls observe() and evaluate() with the state row it already holds locked.
"""

from datetime import UTC, datetime, timedelta

OPEN_AFTER = {"failing": 2, "refusing": 2, "queue_full": 2, "queue_growing": 3}
CLOSE_AFTER = 2
QUEUE_GROWTH_MIN_FRACTION = 0.05
MINUTE = timedelta(minutes=1)
STALE_KEY = "stale|telemetry||"

# Measures as they come from rollups (otlp.py) -> the health figure they add to.
OK_MEASURES = {"exporter": {"sent"}, "receiver": {"accepted"}, "processor": {"accepted"}}
BAD_MEASURES = {
    "exporter": {"send_failed", "enqueue_failed"},
    "receiver": {"refused", "failed"},
    "processor": {"refused"},
}
ITEMS = {"logs": "log records", "metrics": "metric points", "traces": "spans", "profiles": "profiles"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def observe(state: dict, cells: dict, minutes) -> None:
    """Add a request's rollup cells ({(bucket, kind, component, signal, measure): Cell}) into the minutes not
    yet judged; `minutes`: the buckets of every point of the request (a minute with only idle counters counts)."""
    evaluated = state.get("evaluated")
    window = state.setdefault("minutes", {})
    for bucket in minutes:
        if evaluated is None or iso(bucket) > evaluated:
            window.setdefault(iso(bucket), {})
    for (bucket, kind, component, signal, measure), cell in cells.items():
        minute = window.get(iso(bucket))
        if minute is None:  # a late point of a minute already judged
            continue
        figures = minute.setdefault(f"{kind}|{component}|{signal}", {})
        if measure in OK_MEASURES.get(kind, ()):
            figures["ok"] = figures.get("ok", 0) + cell.value
        elif measure in BAD_MEASURES.get(kind, ()):
            figures["bad"] = figures.get("bad", 0) + cell.value
        elif kind == "exporter" and measure == "queue_size":
            figures["queue"], figures["queue_peak"] = cell.value, max(cell.peak or 0, figures.get("queue_peak", 0))
        elif kind == "exporter" and measure == "queue_capacity":
            figures["capacity"] = cell.value


def evaluate(state: dict, newest: datetime | None) -> bool:
    """Judge every complete minute (before `newest`, the latest minute of the request); True when an open
    problem opened, changed its figures or resolved (the gateway's shown health must be written)."""
    if newest is None:
        return False
    window = state.get("minutes", {})
    complete = sorted(minute for minute in window if minute < iso(newest))
    changed = False
    for minute in complete:
        changed |= _judge(state, datetime.fromisoformat(minute), window.pop(minute))
        state["evaluated"] = minute
    return changed


def _judge(state: dict, minute: datetime, figures: dict) -> bool:
    rules = state.setdefault("rules", {})
    queues, last_queues = {}, state.get("queues", {})
    changed, seen = False, set()
    for key, values in figures.items():
        kind = key.split("|", 1)[0]
        checks = [("failing" if kind == "exporter" else "refusing", values.get("bad", 0) > 0)]
        if "queue" in values:
            capacity, previous = values.get("capacity", 0), last_queues.get(key)
            queues[key] = values["queue"]
            values = {**values, "prev": previous}
            checks.append(("queue_full", capacity > 0 and values.get("queue_peak", values["queue"]) >= capacity))
            checks.append(("queue_growing", previous is not None and values["queue"] > previous))
        for name, bad in checks:
            rule_key = f"{name}|{key}"
            if bad or rule_key in rules:
                seen.add(rule_key)
                changed |= _step(rules, rule_key, minute, bad, values)
    # A component without a figure this minute moved no counter (and reported no queue): a clean minute.
    for rule_key in [rule_key for rule_key in rules if rule_key not in seen and rule_key != STALE_KEY]:
        changed |= _step(rules, rule_key, minute, False, {})
    state["queues"] = queues
    for rule_key in [key for key, rule in rules.items() if not rule["open"] and not rule["bad"] and key != STALE_KEY]:
        if not rules[rule_key].get("resolved"):
            del rules[rule_key]
    return changed


def _step(rules: dict, key: str, minute: datetime, bad: bool, values: dict) -> bool:
    """One minute of one rule: count the streak, open or resolve; True when the shown problem changed."""
    rule = rules.setdefault(key, {"bad": 0, "good": 0, "open": False, "since": None})
    name = key.split("|", 1)[0]
    if bad and rule["bad"] == 0 and not rule["open"]:
        rule.update(since=iso(minute), n=0, of=0, q0=values.get("prev") or 0)
    if bad or rule["open"]:
        rule["n"] = rule.get("n", 0) + values.get("bad", 0)
        rule["of"] = rule.get("of", 0) + values.get("bad", 0) + values.get("ok", 0)
        if "queue" in values:
            rule["q"], rule["cap"] = values["queue"], values.get("capacity", 0)
    if bad:
        rule["bad"], rule["good"] = rule["bad"] + 1, 0
        if rule["open"]:
            return name != "queue_full"  # the figures in its message moved
        if rule["bad"] >= OPEN_AFTER[name] and _significant(name, rule):
            rule["open"] = True
            return True
        return False
    rule["bad"], rule["good"] = 0, rule["good"] + 1
    if rule["open"] and rule["good"] >= CLOSE_AFTER:
        rule["open"], rule["resolved"] = False, iso(minute + MINUTE)
        return True
    return rule["open"] and name != "queue_full" and bool(values.get("ok"))


def _significant(name: str, rule: dict) -> bool:
    if name != "queue_growing" or not rule.get("cap"):
        return True
    return rule["q"] >= rule["cap"] * QUEUE_GROWTH_MIN_FRACTION


def mark_stale(state: dict, last_report: datetime) -> None:
    """No report since `last_report`: an open problem of its own (resolved by the next report, see resume())."""
    state["stale"] = iso(last_report)
    state.setdefault("rules", {})[STALE_KEY] = {"bad": 1, "good": 0, "open": True, "since": iso(last_report)}


def resume(state: dict, now: datetime) -> bool:
    """A report arrived: a stale gateway is reporting again (True when it was stale)."""
    if not state.pop("stale", None):
        return False
    rule = state.get("rules", {}).get(STALE_KEY)
    if rule:
        rule.update(open=False, bad=0, good=CLOSE_AFTER, resolved=iso(now))
    return True


def problems(state: dict) -> list[dict]:
    """The problems of the state, open and just resolved:
    [{"key", "component", "message", "since", "open", "resolved"}]."""
    found = []
    for key, rule in state.get("rules", {}).items():
        if not rule["open"] and not rule.get("resolved"):
            continue
        name, kind, component, signal = key.split("|", 3)
        found.append(
            {
                "key": key,
                "component": f"{kind}/{component}" if name != "stale" else "telemetry",
                "message": message(name, kind, component, signal, rule),
                "since": rule["since"],
                "open": rule["open"],
                "resolved": rule.get("resolved"),
            }
        )
    return found


def clear_resolved(state: dict) -> None:
    """Forget the resolution marks once written to the gateway (and the stale rule once resolved)."""
    rules = state.get("rules", {})
    for rule in rules.values():
        rule.pop("resolved", None)
    if STALE_KEY in rules and not rules[STALE_KEY]["open"]:
        del rules[STALE_KEY]


def message(name: str, kind: str, component: str, signal: str, rule: dict) -> str:
    since = datetime.fromisoformat(rule["since"]).strftime("%H:%M UTC")
    items = ITEMS.get(signal, "items")
    where = f"{signal} " if signal else ""
    if name == "failing":
        return f"exporter {component} failing: {rule['n']:,} of {rule['of']:,} {items} failed since {since}"
    if name == "refusing":
        return f"{kind} {component} refusing data: {rule['n']:,} of {rule['of']:,} {items} refused since {since}"
    if name == "queue_full":
        return f"exporter {component} {where}sending queue full ({rule['q']:,} of {rule['cap']:,}) since {since}"
    if name == "queue_growing":
        capacity = f" of {rule['cap']:,}" if rule.get("cap") else ""
        growth = f"{rule['q0']:,} to {rule['q']:,}{capacity}"
        return f"exporter {component} {where}sending queue growing: {growth} since {since}"
    return f"no metrics received since {since}"
