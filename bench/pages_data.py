"""Realistic data for the pages: a fleet of gateways, templates with versions, deployments, history.

`seed(org, user, gateways=1000, templates=100)` fills one organization quickly (bulk inserts) with
rows shaped like the ones the OpAMP server and the rollout engine write: gateways with health trees,
agent descriptions, capabilities and effective configs (some drifted, some failed), templates with
three versions each, finished and running deployments with targets and timelines, fleet snapshots
for the last 24 hours and audit entries. Used by bench/pages_bench.py and the browser tests.
"""

import random
import uuid
from datetime import timedelta

from django.utils import timezone

from core_app.models import AuditLog, Strategy
from dashboard_app.models import FleetSnapshot
from deployments_app.models import (
    Deployment,
    DeploymentEvent,
    DeploymentStatus,
    DeploymentTarget,
    Outcome,
    RollbackState,
    TargetStatus,
)
from gateways_app.models import Gateway, GatewayStatus, RemoteConfigStatus, Tag
from opamp_core.messages import AGENT_CAPABILITY_NAMES
from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion, sha256_of

CONFIG = """receivers:
  otlp:
    protocols:
      grpc: {{}}
      http: {{}}
  hostmetrics:
    collection_interval: {interval}s
    scrapers:
      cpu: {{}}
      memory: {{}}
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
  batch:
    timeout: {timeout}s
exporters:
  otlphttp:
    endpoint: https://otel.{name}.example.com
  debug: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlphttp]
    metrics:
      receivers: [otlp, hostmetrics]
      processors: [memory_limiter, batch]
      exporters: [otlphttp, debug]
"""
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"]
ENVS = ["prod", "staging", "dev"]
# What FlowGate's supervisor announces (gateway/): status, remote config, health, restart, components...
CAPABILITIES = sum(
    bit
    for bit, name in AGENT_CAPABILITY_NAMES.items()
    if name
    in {
        "ReportsStatus",
        "AcceptsRemoteConfig",
        "ReportsEffectiveConfig",
        "ReportsOwnMetrics",
        "AcceptsRestartCommand",
        "ReportsHealth",
        "ReportsRemoteConfig",
        "ReportsHeartbeat",
        "ReportsAvailableComponents",
    }
)


def config_text(name, version):
    return CONFIG.format(name=name, interval=10 * version, timeout=version + 1)


def health_tree(ok, restarts, error):
    status = "running" if ok else "restarting after a crash"
    collector = {
        "healthy": ok,
        "status": status,
        "last_error": error,
        "attributes": {"collector.pid": 4200 + restarts, "collector.restarts": restarts},
        "component_health_map": {
            "pipeline:traces": {"healthy": True, "status": "StatusOK", "component_health_map": {}, "attributes": {}},
            "pipeline:metrics": {
                "healthy": ok,
                "status": "StatusOK" if ok else "StatusRecoverableError",
                "last_error": error,
                "component_health_map": {},
                "attributes": {},
            },
        },
    }
    return {
        "healthy": ok,
        "status": status,
        "last_error": error,
        "attributes": collector["attributes"],
        "component_health_map": {"collector": collector},
    }


def components():
    kinds = {
        "receivers": ["otlp", "hostmetrics", "filelog", "prometheus"],
        "processors": ["batch", "memory_limiter", "attributes", "filter"],
        "exporters": ["otlp", "otlphttp", "debug", "kafka"],
        "extensions": ["health_check", "opamp"],
    }
    return {
        "hash": "ab" * 32,
        "components": {
            kind: {
                "metadata": {},
                "sub_component_map": {
                    name: {"metadata": {"code.namespace": f"{name}{kind[:-1]}"}, "sub_component_map": {}}
                    for name in names
                },
            }
            for kind, names in kinds.items()
        },
    }


def make_gateway(org, index, version, rng, now):
    roll = rng.random()
    status = GatewayStatus.ONLINE if roll < 0.8 else GatewayStatus.DEGRADED if roll < 0.86 else GatewayStatus.OFFLINE
    drifted = rng.random() < 0.04
    failed = drifted and rng.random() < 0.5
    ok = status == GatewayStatus.ONLINE
    error = "" if ok else "exporter otlphttp: connection refused (otel.example.com:4318)"
    name = f"gw-{REGIONS[index % len(REGIONS)]}-{index:04d}"
    effective = config_text("drift", 1) if drifted else version.config_yaml
    return Gateway(
        organization=org,
        instance_uid=uuid.uuid4(),
        name=name,
        hostname=f"{name}.internal.example.com",
        agent_type="otelcol-contrib",
        agent_version=rng.choice(["0.114.0", "0.115.1", "0.116.0"]),
        status=status,
        last_seen=now
        - timedelta(seconds=rng.randint(1, 40) if status != GatewayStatus.OFFLINE else rng.randint(600, 90000)),
        capabilities=CAPABILITIES,
        agent_description={
            "identifying_attributes": {
                "service.name": "otelcol-contrib",
                "service.version": "0.116.0",
                "service.instance.id": str(uuid.uuid4()),
            },
            "non_identifying_attributes": {
                "host.name": f"{name}.internal.example.com",
                "os.type": "linux",
                "host.arch": "x86_64",
                "flowgate.gateway.mode": "supervisor",
                "flowgate.supervisor.version": "0.1.0",
            },
        },
        health=health_tree(ok, 0 if ok else rng.randint(1, 5), error),
        desired_config=version.config_yaml,
        desired_config_hash=version.sha256,
        effective_config=effective,
        effective_config_hash=sha256_of(effective),
        remote_config_status=RemoteConfigStatus.FAILED if failed else RemoteConfigStatus.APPLIED,
        remote_config_hash=sha256_of(config_text("drift", 1)) if drifted else version.sha256,
        remote_config_error="collector exited: invalid configuration: exporters::otlphttp: endpoint required"
        if failed
        else "",
        available_components=components(),
    )


def seed_templates(org, user, count, now):
    types = TemplateType.values
    templates = ConfigTemplate.objects.bulk_create(
        ConfigTemplate(
            organization=org,
            name=f"config-{index:03d}",
            type=types[index % len(types)],
            description=f"Collector config #{index} for the {REGIONS[index % len(REGIONS)]} fleet.",
            created_by=user,
        )
        for index in range(count)
    )
    versions = []
    for template in templates:
        for number in (1, 2, 3):
            text = config_text(template.name, number)
            versions.append(
                TemplateVersion(
                    template=template,
                    number=number,
                    config_yaml=text,
                    sha256=sha256_of(text),
                    change_summary=["Initial version", "Longer batch timeout", "Scrape less often"][number - 1],
                    author=user,
                    validation_state="valid",
                    validated_at=now,
                )
            )
    TemplateVersion.objects.bulk_create(versions)
    return templates, versions


def seed_deployments(org, user, versions, gateways, now, rng):
    """Finished deployments of several outcomes and one rolling out, with targets and timelines."""
    outcomes = [DeploymentStatus.SUCCEEDED] * 14 + [DeploymentStatus.FAILED] * 2 + [DeploymentStatus.ROLLED_BACK] * 2
    outcomes += [DeploymentStatus.CANCELLED, DeploymentStatus.ROLLING_OUT]
    deployments, targets, events = [], [], []
    for index, status in enumerate(outcomes):
        started = now - timedelta(hours=len(outcomes) - index)
        finished = None if status == DeploymentStatus.ROLLING_OUT else started + timedelta(minutes=6)
        deployment = Deployment(
            organization=org,
            template_version=versions[(index % (len(versions) // 3)) * 3 + 2],
            strategy=Strategy.CANARY,
            canary_count=2,
            batch_percent=25,
            status=status,
            outcome=_outcome(status),
            created_by=user,
            started_at=started,
            finished_at=finished,
            current_batch=1,
            failure_threshold_percent=10,
        )
        deployments.append(deployment)
        chosen = [gateways[(index * 40 + k) % len(gateways)] for k in range(min(40, len(gateways)))]
        for position, gateway in enumerate(chosen):
            batch = 0 if position < 2 else 1 + (position - 2) // 10
            target_status = _target_status(status, batch, rng)
            targets.append(
                DeploymentTarget(
                    deployment=deployment,
                    gateway=gateway,
                    batch=batch,
                    status=target_status,
                    error="remote config FAILED: exporters::otlphttp: endpoint required"
                    if target_status == TargetStatus.FAILED
                    else "",
                    sent_at=started if target_status != TargetStatus.PENDING else None,
                    applied_at=started + timedelta(seconds=20) if target_status == TargetStatus.APPLIED else None,
                    rollback=RollbackState.RESTORED if status == DeploymentStatus.ROLLED_BACK else "",
                )
            )
        events.append(
            DeploymentEvent(
                deployment=deployment,
                created_at=started,
                kind="started",
                message=f"Rollout started: {len(chosen)} targets.",
                count=len(chosen),
            )
        )
        events.append(
            DeploymentEvent(
                deployment=deployment,
                created_at=started + timedelta(seconds=30),
                kind="gate_passed",
                message="Canary passed its health gate.",
                count=2,
            )
        )
    Deployment.objects.bulk_create(deployments)
    DeploymentTarget.objects.bulk_create(targets)
    DeploymentEvent.objects.bulk_create(events)
    return deployments


def _outcome(status):
    """How the rollout ended: the rolled-back ones failed first (auto rollback); blank while rolling out."""
    if status == DeploymentStatus.ROLLING_OUT:
        return ""
    return Outcome.FAILED if status == DeploymentStatus.ROLLED_BACK else Outcome(status)


def _target_status(status, batch, rng):
    if status == DeploymentStatus.SUCCEEDED:
        return TargetStatus.APPLIED
    if status in (DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK):  # rolled back after it failed
        return TargetStatus.FAILED if rng.random() < 0.3 else TargetStatus.APPLIED
    if status == DeploymentStatus.CANCELLED:
        return TargetStatus.APPLIED if batch == 0 else TargetStatus.PENDING
    return TargetStatus.APPLIED if batch <= 1 else TargetStatus.SENT if batch == 2 else TargetStatus.PENDING


def seed_history(org, user, gateway_count, now, rng):
    FleetSnapshot.objects.bulk_create(
        FleetSnapshot(
            organization=org,
            taken_at=now - timedelta(minutes=5 * step),
            online=int(gateway_count * (0.78 + 0.06 * rng.random())),
            degraded=int(gateway_count * 0.05),
            offline=int(gateway_count * 0.12),
        )
        for step in range(288, 0, -1)
    )
    AuditLog.objects.bulk_create(
        AuditLog(
            organization=org,
            actor_user=user,
            actor_name=user.get_username(),
            action=action,
            object_type="gateway",
            object_id=str(uuid.uuid4()),
            object_repr=f"gw-{index:04d}",
            changes={"n": index},
        )
        for index, action in enumerate(["gateway.updated", "template.created", "deployment.created"] * 700)
    )


def seed(org, user, *, gateways=1000, templates=100, seed_value=42):
    """Fill `org` (see the module docstring); returns a dict of some of the rows made."""
    rng = random.Random(seed_value)
    now = timezone.now()
    made_templates, versions = seed_templates(org, user, templates, now)
    tags = {
        (key, value): Tag.objects.create(organization=org, key=key, value=value)
        for key, values in (("region", REGIONS), ("env", ENVS))
        for value in values
    }
    rows = Gateway.objects.bulk_create(
        make_gateway(org, index, versions[(index % templates) * 3 + 2], rng, now) for index in range(gateways)
    )
    through = Gateway.tags.through
    through.objects.bulk_create(
        link
        for index, gateway in enumerate(rows)
        for link in (
            through(gateway_id=gateway.pk, tag_id=tags[("region", REGIONS[index % len(REGIONS)])].pk),
            through(gateway_id=gateway.pk, tag_id=tags[("env", ENVS[index % len(ENVS)])].pk),
        )
    )
    deployments = seed_deployments(org, user, versions, rows, now, rng)
    seed_history(org, user, gateways, now, rng)
    return {
        "templates": made_templates,
        "versions": versions,
        "gateways": rows,
        "deployments": deployments,
        "tags": tags,
    }
