"""The throughput API's query parameters, its answer (OpenAPI schema) and its CSV form."""

import csv
import io
import re
from datetime import timedelta

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

from telemetry_app import series

STEP = re.compile(r"^(\d{1,7})([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
AUTO_STEPS = (60, 300, 900, 3600, 21600, 86400)
KNOWN = {"signal", "from", "to", "step", "format", "organization"}


class StepField(serializers.Field):
    default_error_messages = {
        "invalid": "Give seconds (300) or a number with s, m, h or d (5m, 1h).",
        "minutes": "Must be a whole number of minutes (60 s, 5m, 1h, …): rows are per minute.",
    }

    def to_internal_value(self, data):
        match = STEP.match(str(data).strip().lower())
        if not match:
            self.fail("invalid")
        seconds = int(match.group(1)) * UNITS[match.group(2)]
        if seconds <= 0 or seconds % 60:
            self.fail("minutes")
        return seconds

    def to_representation(self, value):
        return value


class ThroughputQuery(serializers.Serializer):
    """?signal=&from=&to=&step= (and format, organization, read by DRF and the view): unknown names are an error."""

    MAX_POINTS = 2000
    MAX_SPAN = timedelta(days=400)

    signal = serializers.ChoiceField(choices=series.ALL_SIGNALS, required=False)
    # `from` is a keyword: the field is declared under another name and renamed below.
    from_ = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)
    step = StepField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - KNOWN)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown parameter."] for name in unknown})
        # Default: up to the end of the current minute (included), so the default day has whole slots.
        end = attrs.get("to") or series.whole_minute(self.context["now"]) + timedelta(minutes=1)
        start = attrs.get("from") or end - timedelta(hours=24)
        if start >= end:
            raise serializers.ValidationError({"from": ["Must be before `to`."]})
        if end - start > self.MAX_SPAN:
            raise serializers.ValidationError({"from": [f"The range may span at most {self.MAX_SPAN.days} days."]})
        seconds = (end - start).total_seconds()
        step = attrs.get("step") or next((s for s in AUTO_STEPS if seconds / s <= 500), AUTO_STEPS[-1])
        if seconds / step > self.MAX_POINTS:
            raise serializers.ValidationError(
                {"step": [f"Too small for this range: at most {self.MAX_POINTS} slots ({int(seconds)} s asked)."]}
            )
        signal = attrs.get("signal")
        return {"from": start, "to": end, "step": step, "signals": (signal,) if signal else series.SIGNALS}

    def to_internal_value(self, data):
        # QueryDict: one value per name (a repeated parameter is refused rather than half read).
        repeated = sorted(name for name in data if len(data.getlist(name)) > 1) if hasattr(data, "getlist") else []
        if repeated:
            raise serializers.ValidationError({name: ["Give it once."] for name in repeated})
        return super().to_internal_value(data)


class PointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Start of the slot.")
    received = serializers.IntegerField(help_text="Items the receivers accepted (in).")
    refused = serializers.IntegerField(help_text="Items the receivers refused (dropped at the door).")
    dropped = serializers.IntegerField(
        help_text="Processors' incoming − outgoing items (filtered, sampled); may be negative in a slot where a "
        "batching processor let out items it held from the previous one."
    )
    dropped_total = serializers.IntegerField(help_text="refused + dropped.")
    sent = serializers.IntegerField(help_text="Items the exporters sent (out).")
    failed = serializers.IntegerField(help_text="Items the exporters failed to send.")


class SeriesSerializer(serializers.Serializer):
    signal = serializers.CharField()
    totals = PointSerializer(help_text="The sums over the range (`time`: its start).")
    points = PointSerializer(many=True)


class ThroughputSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text="Slug.")
    gateway = serializers.UUIDField(allow_null=True, help_text="Null for the organization's series.")
    from_ = serializers.DateTimeField(help_text="Start of the first slot (`from` rounded down to the minute).")
    to = serializers.DateTimeField()
    step = serializers.IntegerField(help_text="Seconds per slot.")
    hourly_before = serializers.DateTimeField(
        allow_null=True,
        help_text="Slots before this time are read from hour rows (the org keeps minutes for a shorter time): "
        "each hour counts in the slot it starts in.",
    )
    series = SeriesSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class CSVRenderer(BaseRenderer):
    """One row per slot and signal: time,signal,received,refused,dropped,dropped_total,sent,failed."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    COLUMNS = ("time", "signal", "received", "refused", "dropped", "dropped_total", "sent", "failed")

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.COLUMNS)
        for one in (data or {}).get("series", []):
            for point in one["points"]:
                moment = point["time"].isoformat().replace("+00:00", "Z")
                writer.writerow([moment, one["signal"], *(point[name] for name in self.COLUMNS[2:])])
        return out.getvalue().encode(self.charset)
