"""Forms of the core, used by the pages (the admin builds its own from the same model)."""

from django import forms

from flowgate_site.models import OrgSettings


class OrgSettingsForm(forms.ModelForm):
    """An organization's settings; the model's validators and constraints are the rules."""

    class Meta:
        model = OrgSettings
        fields = [
            "opamp_token_lifetime_days",
            "registration_token_lifetime_hours",
            "heartbeat_interval_seconds",
            "default_strategy",
            "default_batch_percent",
            "default_canary_percent",
            "default_health_window_seconds",
            "default_failure_threshold_percent",
            "default_auto_rollback",
            "extra_allowed_components",
        ]
        labels = {
            "opamp_token_lifetime_days": "OpAMP token lifetime (days)",
            "registration_token_lifetime_hours": "Registration token lifetime (hours)",
            "heartbeat_interval_seconds": "Heartbeat interval (seconds)",
            "default_batch_percent": "Batch size (% of targets)",
            "default_canary_percent": "Canaries (% of targets)",
            "default_health_window_seconds": "Health window (seconds)",
            "default_failure_threshold_percent": "Failure threshold (% of targets)",
            "default_auto_rollback": "Roll back automatically when a deployment fails",
        }
        widgets = {"extra_allowed_components": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"extra_allowed_components": 'A JSON list of component types, e.g. ["kafka", "otlp"].'}
