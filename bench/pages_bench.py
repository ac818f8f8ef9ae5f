"""Time every operator page with 1,000 gateways and 100 templates in the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowgate .venv/bin/python bench/pages_bench.py [--gateways N]

Creates a throw-away test database (`test_<name>`, dropped at the end), seeds one organization with
bench/pages_data.py (1,000 gateways with health trees and configs, 100 templates x 3 versions, 20
deployments of 40 targets, 24 h of fleet snapshots, 2,100 audit entries), then requests each page in
process with Django's test client, signed in as the organization's owner: one warm-up, then `--runs`
timed requests. Prints the median and the slowest time and the number of SQL queries per page, and exits 1
when a page's median is over the budget (300 ms). Results: docs/benchmarks.md, "Pages".
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 300


def setup():
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
    import django

    django.setup()
    # No setup_test_environment(): its template instrumentation would be timed along with the pages.


def seed(gateways, templates):
    import pages_data
    from django.contrib.auth import get_user_model

    from core_app.roles import Role
    from core_app.services import create_organization, set_membership

    org = create_organization("bench", "Bench")
    user = get_user_model().objects.create_user("owner", "owner@example.com", "bench-pass-123")
    set_membership(org, user, Role.OWNER)
    rows = pages_data.seed(org, user, gateways=gateways, templates=templates)
    return user, rows


def pages(rows):
    """(label, method, path, body) for every page; ids from the seeded rows."""
    from django.urls import reverse

    template = rows["templates"][50]
    gateway = rows["gateways"][500]
    deployment = rows["deployments"][-1]  # the rolling-out one, 40 targets
    tag = rows["tags"][("env", "prod")]
    validate_body = json.dumps({"config_yaml": rows["versions"][2].config_yaml, "type": "full"})
    return [
        ("dashboard", "get", reverse("dashboard:index"), None),
        ("gateways", "get", reverse("gateways:list"), None),
        ("gateways, filtered", "get", reverse("gateways:list") + "?status=online&tag=env=prod&search=eu", None),
        ("gateways, drift", "get", reverse("gateways:list") + "?drift=1", None),
        ("gateway detail", "get", reverse("gateways:detail", args=[gateway.pk]), None),
        ("templates", "get", reverse("templates:list"), None),
        ("template detail", "get", reverse("templates:detail", args=[template.pk]), None),
        ("template version", "get", reverse("templates:version", args=[template.pk, 3]), None),
        ("template diff", "get", reverse("templates:diff", args=[template.pk]) + "?from=1&to=3", None),
        ("template editor", "get", reverse("templates:edit", args=[template.pk]), None),
        ("validate (JSON)", "post", reverse("templates:validate"), validate_body),
        ("deployments", "get", reverse("deployments:list"), None),
        ("new deployment form", "get", reverse("deployments:create"), None),
        ("selector preview", "get", reverse("deployments:preview") + f"?selector_tags={tag.pk}", None),
        ("deployment detail", "get", reverse("deployments:detail", args=[deployment.pk]), None),
        ("deployment live partial", "get", reverse("deployments:detail", args=[deployment.pk]), "htmx"),
        ("registration tokens", "get", reverse("gateways:tokens"), None),
        ("audit log", "get", reverse("core:audit-log"), None),
        ("settings", "get", reverse("core:settings"), None),
    ]


def request(client, method, path, body):
    if method == "post":
        return client.post(path, body, content_type="application/json")
    if body == "htmx":
        return client.get(path, headers={"HX-Request": "true"})
    return client.get(path)


def measure(client, page, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    label, method, path, body = page
    response = request(client, method, path, body)  # warm-up (templates compiled, caches filled)
    assert response.status_code == 200, (label, response.status_code)
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            request(client, method, path, body)
            times.append((time.perf_counter() - started) * 1000)
    return {"page": label, "median_ms": statistics.median(times), "max_ms": max(times), "queries": len(queries)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--templates", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.test import Client

    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        user, rows = seed(args.gateways, args.templates)
        print(f"seeded {args.gateways} gateways, {args.templates} templates in {time.perf_counter() - started:.1f} s")
        print(f"database: {connection.vendor} ({name})\n")
        client = Client()
        client.force_login(user)
        results = [measure(client, page, args.runs) for page in pages(rows)]
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
    print(f"{'page':<26}{'median ms':>10}{'max ms':>9}{'queries':>9}")
    for row in results:
        flag = "  OVER BUDGET" if row["median_ms"] > BUDGET_MS else ""
        print(f"{row['page']:<26}{row['median_ms']:>10.1f}{row['max_ms']:>9.1f}{row['queries']:>9}{flag}")
    slow = [row["page"] for row in results if row["median_ms"] > BUDGET_MS]
    print(f"\nbudget {BUDGET_MS} ms: {'all pages within' if not slow else 'over: ' + ', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
