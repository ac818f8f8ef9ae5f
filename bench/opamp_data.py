"""The Django side of the OpAMP load generator: bench data, config pushes, and what the rows say.

Runs in the load generator's coordinating process with the server's DATABASE_URL and
REDIS_URL, so that its rows are the server's rows and its pushes reach the server's
connections through the same channel layer. The simulated agents never import this.
"""

import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORG_SLUG = "bench"
TAG = ("bench", "load")
TEMPLATE_NAME = "bench-config"
TOKEN_LIFETIME = timedelta(days=30)
CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc: {{}}
      http: {{}}
processors:
  batch: {{}}
  attributes/bench:
    actions:
      - key: bench.push
        value: "{nonce}"
        action: upsert
exporters:
  debug: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch, attributes/bench]
      exporters: [debug]
"""


def setup_django():
    """Import Django with the project's settings (DATABASE_URL/REDIS_URL from the environment)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
    import django

    django.setup()


def create_bench_data(count, tokens_path):
    """Replace the bench organization by a fresh one with `count` gateways, each with an OpAMP token.

    Bulk inserts (gateways, their tag, tokens); tokens are signed like gateways_app.services
    issues them. Writes "gateway_id instance_uid_hex jwt" lines to `tokens_path` and returns
    the number of lines. Gateways get their instance_uid at setup, as enrolled supervisors do.
    """
    from django.db import transaction
    from django.utils import timezone

    from core_app.models import Organization
    from core_app.services import create_organization
    from gateways_app import tokens
    from gateways_app.models import Gateway, OpAMPToken, Tag

    now = timezone.now()
    with transaction.atomic():
        _delete_bench_org(Organization)
        org = create_organization(ORG_SLUG, "Load benchmark")
        tag = Tag.objects.create(organization=org, key=TAG[0], value=TAG[1])
        gateways = Gateway.objects.bulk_create(
            [
                Gateway(
                    organization=org,
                    name=f"bench-{index:05d}",
                    hostname=f"bench-{index:05d}.local",
                    instance_uid=uuid.uuid4(),
                )
                for index in range(count)
            ],
            batch_size=1000,
        )
        Through = Gateway.tags.through
        Through.objects.bulk_create([Through(gateway_id=gw.pk, tag_id=tag.pk) for gw in gateways], batch_size=1000)
        issued_at, expires_at = tokens.token_times(now, TOKEN_LIFETIME)
        rows = [
            OpAMPToken(gateway=gw, jti=tokens.new_jti(), issued_at=issued_at, expires_at=expires_at) for gw in gateways
        ]
        OpAMPToken.objects.bulk_create(rows, batch_size=1000)
    lines = []
    for gateway, row in zip(gateways, rows, strict=True):
        raw = tokens.encode(
            audience=tokens.AUD_OPAMP,
            subject=gateway.pk,
            org_id=org.pk,
            jti=row.jti,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        lines.append(f"{gateway.pk} {gateway.instance_uid.hex} {raw}\n")
    Path(tokens_path).parent.mkdir(parents=True, exist_ok=True)
    Path(tokens_path).write_text("".join(lines))
    Path(tokens_path).chmod(0o600)
    return len(lines)


def _delete_bench_org(Organization):
    from deployments_app.models import Deployment

    org = Organization.objects.filter(slug=ORG_SLUG).first()
    if org is None:
        return
    # Deployments protect their template versions: remove them first, then everything else.
    Deployment.objects.for_org(org).delete()
    org.delete()


def push_config(gateway_ids, nonce):
    """Give the bench gateways a new desired config (unique per `nonce`) and let it be pushed.

    Goes through gateways_app.services.assign_desired_config, the one place where desired
    configs change (a deployment's rollout calls it for each batch): one UPDATE, and once the
    transaction commits, opamp_app.push notifies every gateway's connection. Returns
    (sha256 of the config, {"committed": seconds, "returned": seconds}) counted from the call.
    """
    from django.db import transaction

    from core_app.models import Organization
    from gateways_app.models import Gateway
    from gateways_app.services import assign_desired_config
    from templates_app.models import ConfigTemplate
    from templates_app.services import create_template, create_version

    org = Organization.objects.get(slug=ORG_SLUG)
    template = ConfigTemplate.objects.for_org(org).filter(name=TEMPLATE_NAME).first()
    if template is None:
        template = create_template(org, name=TEMPLATE_NAME, author=None)
    version = create_version(template, config_yaml=CONFIG.format(nonce=nonce), change_summary="bench", author=None)
    _warm_up_channel_layer()
    times = {}
    started = time.monotonic()
    with transaction.atomic():
        # Registered first, so it runs first at commit: before the push that assign_desired_config queues.
        transaction.on_commit(lambda: times.setdefault("committed", time.monotonic() - started))
        assign_desired_config(Gateway.objects.for_org(org).filter(pk__any=gateway_ids), version)
    times["returned"] = time.monotonic() - started
    times["started_at"] = started
    return version.sha256, times


def _warm_up_channel_layer():
    """Use the channel layer once before the timed push, as a running web or worker process has.

    A message to a group nobody is in: nothing is delivered, but the layer, its Redis
    connection code and asgiref's thread machinery are set up (0.1 s the first time).
    """
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)("bench.warm-up", {"type": "bench.nothing"})


def count_applied(config_hash):
    """How many bench gateways' rows say the config with this hash is applied (one COUNT query)."""
    from gateways_app.models import Gateway

    applied = Gateway.objects.filter(remote_config_status="applied", remote_config_hash=config_hash)
    return applied.filter(organization__slug=ORG_SLUG).count()


def close_connections():
    from django.db import connections

    connections.close_all()
