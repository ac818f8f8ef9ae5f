"""Summaries and the printed report of the OpAMP load generator (plain Python)."""


def percentiles(values):
    """{"count", "p50", "p90", "p99", "max"} of a list of seconds (nearest-rank), in milliseconds."""
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(fraction):
        index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
        return round(ordered[index] * 1000, 2)

    return {"count": len(ordered), "p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "max": rank(1.0)}


def _ms(summary):
    if not summary["count"]:
        return "none"
    return f"p50 {summary['p50']} ms, p90 {summary['p90']} ms, p99 {summary['p99']} ms, max {summary['max']} ms"


def _seconds(value):
    return "n/a" if value is None else f"{value:.3f} s"


def _kib(value):
    return "n/a" if value is None else f"{value / 1024:.1f} MiB"


def _report_connect(connect):
    print(f"agents connected:      {connect['connected']} of {connect['agents']} in {_seconds(connect['seconds'])}")
    print(f"  handshake (connect + full state): {_ms(connect['handshake'])}")
    if connect["errors"]:
        print(f"  errors: {connect['errors']}")
    per_agent = connect["server_kib_per_agent"]
    print(
        f"server RSS:            {_kib(connect['server_rss_before_kib'])} before, "
        f"{_kib(connect['server_rss_after_kib'])} after connecting"
        + ("" if per_agent is None else f" -> {per_agent:.1f} KiB per agent")
    )
    cpu = connect["server_cpu"]
    print(f"  CPU during connect: server {_seconds(cpu)}, load generator {_seconds(connect['loadgen_cpu'])}")


def _report_heartbeat(heartbeat):
    print(
        f"heartbeats:            {heartbeat['round_trips']} round trips in {heartbeat['duration']:.0f} s "
        f"({heartbeat['per_second']:.0f}/s, one per agent every {heartbeat['interval']} s)"
    )
    print(f"  round trip: {_ms(heartbeat['rtt'])}")
    print(f"  load generator send lag: {_ms(heartbeat['send_lag'])}")
    server_cpu = heartbeat["server_cpu_percent"]
    print(
        f"  CPU: server {'n/a' if server_cpu is None else f'{server_cpu:.0f}%'} of one core, "
        f"load generator {heartbeat['loadgen_cpu_percent']:.0f}% (all workers), "
        f"everything else {heartbeat['other_cpu_percent']:.0f}% (load average {' '.join(heartbeat['loadavg'])})"
    )
    extras = {key: heartbeat[key] for key in ("resyncs", "skipped") if heartbeat[key]}
    if extras or heartbeat["errors"]:
        print(f"  {extras} errors: {heartbeat['errors']}")


def _report_push(push):
    if push["error"]:
        print(f"config push failed: {push['error']}")
        return
    print(
        f"config push:           desired configs committed at +{_seconds(push['committed'])}, "
        f"assign_desired_config returned (push sent) at +{_seconds(push['service_returned'])}"
    )
    print(f"  config received by agents (from push start): {_ms(push['received'])}")
    print(f"  APPLIED acknowledged by the server:          {_ms(push['applied_acked'])}")
    print(f"  all {push['agents']} agents APPLIED (acknowledged): {_seconds(push['all_applied_acked'])}")
    print(f"  all {push['agents']} Gateway rows say applied:      {_seconds(push['all_rows_applied'])}")
    if push["missing"] or push["errors"]:
        print(f"  missing: {push['missing']} errors: {push['errors']}")
    print(f"  server CPU during push: {_seconds(push['server_cpu'])}")


def print_report(results):
    print(f"OpAMP load: {results['url']}, {results['processes']} load generator processes")
    if results.get("machine"):
        print(f"machine: {results['machine']}")
    _report_connect(results["connect"])
    if "heartbeat" in results:
        _report_heartbeat(results["heartbeat"])
    if "push" in results:
        _report_push(results["push"])
    if results.get("close", {}).get("unsolicited"):
        print(f"unsolicited server messages: {results['close']['unsolicited']}")
