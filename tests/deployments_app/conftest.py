"""Fixtures of the deployments tests: a template version per org, tags and tagged gateways.

Templates, versions, tags and gateways are created with the models directly.
"""

import pytest

from deployments_app import tasks
from gateways_app.models import Gateway, Tag
from templates_app.models import ConfigTemplate, TemplateVersion

CONFIG_V1 = "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n"


def make_version(org, name="base", config_yaml=CONFIG_V1, number=1):
    template, _ = ConfigTemplate.objects.get_or_create(organization=org, name=name)
    return TemplateVersion.objects.create(template=template, number=number, config_yaml=config_yaml)


def make_tag(org, label):
    key, value = label.split("=", 1)
    tag, _ = Tag.objects.get_or_create(organization=org, key=key, value=value)
    return tag


def make_gateway(org, name, *labels, **fields):
    gateway = Gateway.objects.create(organization=org, name=name, **fields)
    gateway.tags.set([make_tag(org, label) for label in labels])
    return gateway


@pytest.fixture(autouse=True)
def tasks_in_process(monkeypatch):
    """Tasks these tests queue run at once in this process (Task.apply), whatever REDIS_URL says.

    No broker connection is made from the test process: a producer pool opened here would keep
    this run's broker settings for later tests that point Celery elsewhere. (The live rollout
    test queues nothing from this process: its deployments are created through the live server.)
    """
    for task in (tasks.advance_rollout, tasks.reconcile_deployments, tasks.validate_deployment):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: _task.apply(args))


@pytest.fixture
def version(org):
    return make_version(org)


@pytest.fixture
def other_version(other_org):
    return make_version(other_org, name="globex-base")


@pytest.fixture
def fleet(org):
    """Four acme gateways: two in prod/eu, one in prod/us, one in staging/eu."""
    return {
        "eu1": make_gateway(org, "eu-1", "env=prod", "region=eu"),
        "eu2": make_gateway(org, "eu-2", "env=prod", "region=eu"),
        "us1": make_gateway(org, "us-1", "env=prod", "region=us"),
        "stg": make_gateway(org, "stg-1", "env=staging", "region=eu"),
    }
