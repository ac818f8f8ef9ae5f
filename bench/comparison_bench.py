"""Time of a deployment's before-vs-after comparison over a large fleet, measured on the configured database.

    DATABASE_URL=postgres://… .venv/bin/python bench/comparison_bench.py [--gateways 1000] [--keep]

Creates an organization "comparison-bench" (deleted first if it exists) with gateways that each report, every
minute for the hour before a deployment and the hour after it, per signal (logs, metrics, traces): the
throughput rows the endpoint writes (telemetry_app.throughput: one per signal and minute, and per hour). One
deployment of a version to all of them, applied in batches of 100 a minute apart (so the windows differ). Times
deployments_app.comparison.for_deployment (its queries: the targets, the org's prices, the throughput) and the
page fragment and API answer through Django's test client (median of 5 after a warm-up). docs/telemetry.md
quotes it.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from core_app.models import Organization  # noqa: E402
from core_app.roles import Role  # noqa: E402
from core_app.services import create_organization, set_membership  # noqa: E402
from deployments_app import comparison  # noqa: E402
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus  # noqa: E402
from gateways_app.models import Gateway  # noqa: E402
from telemetry_app.models import Throughput  # noqa: E402
from templates_app.models import ConfigTemplate, TemplateVersion  # noqa: E402

SLUG = "comparison-bench"
SIGNALS = ("logs", "metrics", "traces")
CONFIG = "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n"


def clear():
    """The bench organization goes, its deployments first (they protect their template versions)."""
    Deployment.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()


def seed(gateways: int):
    clear()
    org = create_organization(SLUG, "Comparison bench")
    user, _ = get_user_model().objects.get_or_create(username="comparison-bench")
    set_membership(org, user, Role.OWNER)
    template = ConfigTemplate.objects.create(organization=org, name="bench")
    version = TemplateVersion.objects.create(template=template, number=1, config_yaml=CONFIG)
    deployment = Deployment.objects.create(
        organization=org, template_version=version, status=DeploymentStatus.SUCCEEDED
    )
    fleet = Gateway.objects.bulk_create(
        Gateway(organization=org, name=f"bench-{index:05d}", hostname=f"bench-{index:05d}") for index in range(gateways)
    )
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=6)
    rows = 0
    for index, gateway in enumerate(fleet):
        applied = start + timedelta(minutes=index // 100, seconds=20)
        DeploymentTarget.objects.create(
            deployment=deployment,
            gateway=gateway,
            status=TargetStatus.APPLIED,
            sent_at=applied - timedelta(seconds=5),
            applied_at=applied,
        )
        batch, hours = [], {}
        for minute in range(-61, 63):
            bucket = applied.replace(second=0) + timedelta(minutes=minute)
            sent = 100 if minute < 0 else 40
            for signal in SIGNALS:
                batch.append(row(org, gateway, "minute", bucket, signal, 100, sent))
                hour = hours.setdefault((bucket.replace(minute=0), signal), [0, 0])
                hour[0] += 100
                hour[1] += sent
        batch += [row(org, gateway, "hour", hour, signal, *items) for (hour, signal), items in hours.items()]
        Throughput.objects.bulk_create(batch, batch_size=2000)
        rows += len(batch)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Throughput._meta.db_table}")  # noqa: S608 - the model's own table name
    return org, user, deployment, rows


def row(org, gateway, resolution, bucket, signal, received, sent):
    return Throughput(
        organization=org,
        gateway=gateway,
        resolution=resolution,
        bucket=bucket,
        signal=signal,
        received=received,
        dropped=received - sent,
        sent=sent,
    )


def median_ms(action, times=5):
    action()  # warm-up
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the bench organization afterwards")
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    began = time.perf_counter()
    org, user, deployment, rows = seed(args.gateways)
    print(f"seeded {args.gateways} gateways, {rows:,} throughput rows in {time.perf_counter() - began:.0f} s")
    with CaptureQueriesContext(connection) as queries:
        result = comparison.for_deployment(deployment)
    print(f"for_deployment: {len(queries)} queries; {[row.sentence('v1') for row in result.signals]}")
    print(f"for_deployment: {median_ms(lambda: comparison.for_deployment(deployment)):.0f} ms median")
    client = Client()
    client.force_login(user)
    page = f"/deployments/{deployment.pk}/comparison/"
    api = f"/api/v1/deployments/{deployment.pk}/comparison/"
    assert client.get(page, headers={"HX-Request": "true"}).status_code == 200
    assert client.get(api).status_code == 200
    print(f"page fragment: {median_ms(lambda: client.get(page, headers={'HX-Request': 'true'})):.0f} ms median")
    print(f"API: {median_ms(lambda: client.get(api)):.0f} ms median")
    if not args.keep:
        clear()


if __name__ == "__main__":
    main()
