"""Time the throughput pages and API with 1,000 gateways × 7 days of telemetry in PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowgate .venv/bin/python bench/telemetry_pages.py [--gateways N]

Creates a throw-away test database (`test_<name>`, dropped at the end), seeds one organization with
bench/pages_data.py (1,000 gateways as the OpAMP server stores them, 10 templates, deployments, audit), then
writes their throughput rows in bulk (one INSERT … SELECT over generate_series per resolution, in the
database): per gateway and signal (logs, metrics, traces), a minute row for each minute of the default
per-minute retention (48 h) and an hour row for each hour of 7 days, as telemetry_app.throughput writes them
at ingest (the per-component Rollup rows are not written: no page or API reads them). Then, signed in as
the owner, it requests each page and API call in process with Django's test client (server time only): one
warm-up, then `--runs` timed requests; prints the median, the slowest and the SQL queries, and exits 1 when a
page's median is over the budget (300 ms). Results: docs/benchmarks.md, "Throughput pages".
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 300
MINUTE_HOURS = 48  # the default telemetry_minute_retention_hours
DAYS = 7


def setup():
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
    import django

    django.setup()


def seed(gateways):
    import pages_data
    from django.contrib.auth import get_user_model

    from core_app.roles import Role
    from core_app.services import create_organization, set_membership

    org = create_organization("bench", "Bench")
    user = get_user_model().objects.create_user("owner", "owner@example.com", "bench-pass-123")
    set_membership(org, user, Role.OWNER)
    rows = pages_data.seed(org, user, gateways=gateways, templates=10)
    return org, user, rows


def seed_throughput(org):
    """Minute rows for the last MINUTE_HOURS hours, hour rows for DAYS days: every gateway, 3 signals; row count."""
    from django.db import connection
    from django.utils import timezone

    from telemetry_app.models import Throughput
    from telemetry_app.series import whole_hour, whole_minute

    now = timezone.now()
    table = Throughput._meta.db_table
    # Volumes differ per gateway (its position in a hash) and per signal; processors drop about a third.
    insert = f"""
        INSERT INTO {table} (organization_id, gateway_id, resolution, bucket, signal,
                             received, refused, dropped, sent, failed)
        SELECT g.organization_id, g.id, %s, b.bucket, s.signal,
               v.received * %s, v.received * %s / 500, v.received * %s / 3, v.received * %s * 2 / 3, 0
        FROM gateways_app_gateway g
        CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, %s::interval) AS b(bucket)
        CROSS JOIN (VALUES ('logs', 3), ('metrics', 2), ('traces', 1)) AS s(signal, weight)
        CROSS JOIN LATERAL (SELECT (50 + abs(hashtext(g.id::text)) %% 950) * s.weight AS received) v
        WHERE g.organization_id = %s
    """  # noqa: S608 (the model's own table name; every value is a parameter)
    end_minute, end_hour = whole_minute(now), whole_hour(now)
    with connection.cursor() as cursor:
        for resolution, first, last, step, per in [
            (
                "minute",
                end_minute - timezone.timedelta(hours=MINUTE_HOURS) + timezone.timedelta(minutes=1),
                end_minute,
                "1 minute",
                1,
            ),
            ("hour", end_hour - timezone.timedelta(days=DAYS) + timezone.timedelta(hours=1), end_hour, "1 hour", 60),
        ]:
            cursor.execute(insert, [resolution, per, per, per, per, first, last, step, org.pk])
        # What autovacuum does to rows that stopped changing: statistics, and the visibility map that lets a
        # covering index answer without reading the table.
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
        return cursor.fetchone()


def calls(org, rows):
    from django.urls import reverse

    gateway = rows["gateways"][len(rows["gateways"]) // 2]
    detail = reverse("gateways:detail", args=[gateway.pk])
    api = reverse("telemetry-gateway-throughput", args=[gateway.pk])
    fleet = reverse("telemetry-throughput")
    return [
        ("gateway page, 1 h", f"{detail}?throughput=1h", True),
        ("gateway page, 24 h", f"{detail}?throughput=24h", True),
        ("gateway page, 7 d", f"{detail}?throughput=7d", True),
        ("dashboard, 24 h", reverse("dashboard:index") + "?throughput=24h", True),
        ("dashboard, 1 h", reverse("dashboard:index") + "?throughput=1h", True),
        ("API gateway, 24 h (5 min)", api, False),
        ("API gateway, 7 d (1 h), CSV", f"{api}?from=-7d&step=1h&format=csv", False),
        ("API org, 7 d (1 h)", f"{fleet}?from=-7d&step=1h", False),
        ("API org, 24 h (1 h)", f"{fleet}?step=1h", False),
        ("API org, 1 h (1 min)", f"{fleet}?from=-1h&step=1m", False),
        ("API org, 24 h (5 min)", fleet, False),
    ]


def resolve(path):
    """`from=-7d` / `-1h` in the list above: relative to now, as an ISO time."""
    from datetime import timedelta

    from django.utils import timezone

    for text, delta in (("-7d", timedelta(days=7)), ("-1h", timedelta(hours=1))):
        path = path.replace(f"from={text}", f"from={(timezone.now() - delta).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return path


def measure(client, call, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    label, path, page = call
    path = resolve(path)
    response = client.get(path)
    assert response.status_code == 200, (label, response.status_code, response.content[:300])
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
    return {
        "call": label,
        "page": page,
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "queries": len(queries),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the test database (to EXPLAIN its queries)")
    parser.add_argument("--reuse", action="store_true", help="time a database kept by --keep, without seeding")
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.test import Client

    if connection.vendor != "postgresql":
        sys.exit("measure on PostgreSQL: set DATABASE_URL")
    if args.reuse:
        name = connection.creation._get_test_db_name()
        connection.close()
        connection.settings_dict["NAME"] = name
    else:
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        if args.reuse:
            from django.contrib.auth import get_user_model

            from core_app.models import Organization
            from gateways_app.models import Gateway

            org, user = Organization.objects.get(slug="bench"), get_user_model().objects.get(username="owner")
            rows = {"gateways": list(Gateway.objects.filter(organization=org).order_by("name"))}
        else:
            started = time.perf_counter()
            org, user, rows = seed(args.gateways)
            seeded = time.perf_counter()
            count, size = seed_throughput(org)
            print(
                f"seeded {args.gateways} gateways in {seeded - started:.1f} s; {count:,} throughput rows "
                f"({size / 2**20:.0f} MiB with indexes) in {time.perf_counter() - seeded:.1f} s"
            )
        print(f"database: PostgreSQL ({name}); host {platform.node()}, {os.cpu_count()} CPUs\n")
        client = Client()
        client.force_login(user)
        results = [measure(client, call, args.runs) for call in calls(org, rows)]
    finally:
        if not (args.keep or args.reuse):
            connection.creation.destroy_test_db(name, verbosity=0)
    print(f"{'call':<32}{'median ms':>10}{'max ms':>9}{'queries':>9}")
    for row in results:
        flag = "  OVER BUDGET" if row["page"] and row["median_ms"] > BUDGET_MS else ""
        print(f"{row['call']:<32}{row['median_ms']:>10.1f}{row['max_ms']:>9.1f}{row['queries']:>9}{flag}")
    slow = [row["call"] for row in results if row["page"] and row["median_ms"] > BUDGET_MS]
    print(f"\npages, budget {BUDGET_MS} ms: {'all within' if not slow else 'over: ' + ', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
