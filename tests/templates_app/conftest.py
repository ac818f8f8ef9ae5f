import pytest

from templates_app.models import TemplateType
from templates_app.services import create_template

PIPELINE_YAML = """\
receivers:
  otlp:
    protocols:
      grpc: {}
exporters:
  debug: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


@pytest.fixture
def template(org, alice):
    """acme's "edge" template with version 1."""
    return create_template(
        org,
        name="edge",
        type=TemplateType.TRACES,
        description="Edge gateways",
        author=alice,
        config_yaml=PIPELINE_YAML,
        change_summary="first cut",
    )


@pytest.fixture
def globex_template(other_org, charlie):
    return create_template(other_org, name="globex-edge", author=charlie, config_yaml=PIPELINE_YAML)
