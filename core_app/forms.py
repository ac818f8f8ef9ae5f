"""Forms of the core: organization settings (pages; the admin builds its own from the same model)
and memberships (admin, where members are managed)."""

from django import forms

from core_app.models import Membership, OrgSettings
from core_app.roles import may_assign


class OrgSettingsForm(forms.ModelForm):
    """An organization's settings; the model's validators and constraints are the rules."""

    class Meta:
        model = OrgSettings
        fields = list(OrgSettings.EDITABLE_FIELDS)
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


class MembershipForm(forms.ModelForm):
    """A membership as someone (`actor`) adds or changes it.

    The admin sets `actor` per request (core_app/admin.py, `for_actor`). Only an owner of the
    organization may make someone owner or change an owner's membership: an org admin must not raise
    themselves to owner. Without an actor nothing may be assigned.
    """

    actor = None

    class Meta:
        model = Membership
        fields = ["organization", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        org = cleaned.get("organization")
        if org is None and self.instance.organization_id is not None:
            org = self.instance.organization
        if org is None or not self.has_changed():
            return cleaned
        actor_role = org.role_of(self.actor) if self.actor is not None else None
        role = cleaned.get("role")
        if role and not may_assign(actor_role, role):
            self.add_error("role", f"Only an owner of {org} may grant the {role} role.")
        elif not self.instance._state.adding and not may_assign(actor_role, self.instance.role):
            self.add_error(None, f"Only an owner of {org} may change an owner's membership.")
        return cleaned
