"""A config and component reports for the tests of the check against the targets (deployments_app.target_check)."""

from tests.templates_app.validation_helpers import reported

# Uses otlp (receiver and exporter) and debug (exporter), as in the issue.
CONFIG = """receivers:
  otlp:
    protocols:
      grpc: {}
exporters:
  debug: {}
  otlp:
    endpoint: collector.example.com:4317
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, otlp]
"""
FULL = reported(receivers=["otlp"], exporters=["debug", "otlp"])
NO_OTLP_OUT = reported(receivers=["otlp"], exporters=["otlphttp"])  # lacks the debug and otlp exporters
