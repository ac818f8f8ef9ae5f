"""Gateway telemetry: the credential a gateway's collector pushes its own metrics with, and the rollups.

Raw data points are never stored: each OTLP request is turned into per-minute rows (Rollup) at once,
deltas computed against the last cumulative value of each series (SeriesState). Minute rows are summed
into hour rows later (retention.py). Why PostgreSQL rows and not a time-series store: docs/telemetry.md.
"""

from django.db import models

from core_app.models import OrgOwnedModel
from core_app.querysets import OrgQuerySet


class TelemetryCredential(OrgOwnedModel):
    """A gateway's secret for POST /v1/metrics, as `fgt_<prefix>_<secret>` (credentials.py).

    Only `prefix` (to find the row), `seed` (the server derives the secret from it and its key, so the
    OpAMP offer can carry it again on every connection) and the HMAC-SHA256 `digest` of the whole
    credential are stored: the database alone does not give the credential.
    """

    gateway = models.ForeignKey("gateways_app.Gateway", on_delete=models.CASCADE, related_name="telemetry_credentials")
    prefix = models.CharField(max_length=16, unique=True)
    seed = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    # Set when a newer credential replaced this one: it keeps working for the org's grace period.
    replaced_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["gateway", "replaced_at"], name="telemetry_cred_current")]

    def __str__(self):
        return f"telemetry credential fgt_{self.prefix}_… of {self.gateway_id}"


class SeriesState(models.Model):
    """The last cumulative point of each series a gateway reported: {series key: [start ns, time ns, value]}.

    One row per gateway, locked while a request computes its deltas: two requests of one gateway never
    subtract from the same previous value.
    """

    gateway = models.OneToOneField("gateways_app.Gateway", on_delete=models.CASCADE, related_name="+")
    series = models.JSONField(default=dict)
    # Health from metrics (health.py): the minutes not yet judged and each rule's streak; `updated_at` is
    # when the gateway last reported (the stale check of health_status.py reads it).
    health = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"telemetry series of {self.gateway_id}"


class Resolution(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"


class ComponentKind(models.TextChoices):
    RECEIVER = "receiver", "Receiver"
    PROCESSOR = "processor", "Processor"
    EXPORTER = "exporter", "Exporter"


class Rollup(OrgOwnedModel):
    """What one component of one gateway did in one minute (or hour), for one signal and one measure.

    Counters (accepted, sent, send_failed, …) hold the items counted in the bucket (`value`); gauges
    (queue_size) hold the last value seen in a minute (the mean of the minutes in an hour row) and the
    largest (`peak`). `signal` is empty for a measure the collector does not split by signal.
    """

    gateway = models.ForeignKey("gateways_app.Gateway", on_delete=models.CASCADE, related_name="+")
    resolution = models.CharField(max_length=6, choices=Resolution.choices, default=Resolution.MINUTE)
    bucket = models.DateTimeField()
    component_kind = models.CharField(max_length=10, choices=ComponentKind.choices)
    component = models.CharField(max_length=200)
    signal = models.CharField(max_length=10, blank=True)
    measure = models.CharField(max_length=20)
    gauge = models.BooleanField(default=False)
    value = models.BigIntegerField(default=0)
    peak = models.BigIntegerField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "resolution", "bucket", "component_kind", "component", "signal", "measure"],
                name="telemetry_rollup_unique_series_bucket",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "resolution", "bucket"], name="telemetry_rollup_org_time"),
        ]

    def __str__(self):
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.component_kind}/{self.component} {self.signal} {self.measure}"


class Throughput(OrgOwnedModel):
    """What one gateway's pipelines of one signal did in one minute (or hour), in the terms the pages use.

    Written with the rollups of every request (throughput.py), for the minute and, added up, for its hour:
    pages and the series API read a few rows per gateway and bucket, never the per-component rollups, so a
    fleet's day is 24 hour rows per gateway and signal. received = receivers' accepted items; refused =
    receivers' refused (dropped at the door); dropped = processors' incoming − outgoing (plus the dropped
    items older collectors count; may be negative in a minute where a batch processor let out items it held);
    sent = exporters' sent; failed = exporters' send_failed. docs/telemetry.md, "Throughput".
    """

    gateway = models.ForeignKey("gateways_app.Gateway", on_delete=models.CASCADE, related_name="+")
    resolution = models.CharField(max_length=6, choices=Resolution.choices, default=Resolution.MINUTE)
    bucket = models.DateTimeField()
    signal = models.CharField(max_length=10)
    received = models.BigIntegerField(default=0)
    refused = models.BigIntegerField(default=0)
    dropped = models.BigIntegerField(default=0)
    sent = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "resolution", "bucket", "signal"], name="telemetry_throughput_unique"
            )
        ]
        indexes = [
            # Covering (PostgreSQL): a fleet's range is read from the index alone, not from rows spread over the table.
            models.Index(
                fields=["organization", "resolution", "bucket"],
                include=["signal", "gateway", "received", "refused", "dropped", "sent", "failed"],
                name="telemetry_throughput_org_time",
            ),
        ]

    def __str__(self):
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.signal} {self.resolution} of {self.gateway_id}"
