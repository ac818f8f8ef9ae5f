"""Forms of the core: organization settings (pages; the admin builds its own from the same model)
and memberships (admin, where members are managed)."""

import contextlib
import json
import re

from django import forms

from core_app.models import Membership, OrgSettings, component_name
from core_app.roles import may_assign


class ComponentTypesField(forms.Field):
    """A list of component type names typed one per line (commas and spaces also separate them).

    Stored as the JSON list the API reads and writes; people should not have to type JSON. A pasted
    JSON list is still read. Each name is checked by the model's validator, named in the error.
    """

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "none"})

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(value)
        return value

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            items = list(value)
        else:
            text = (value or "").strip()
            items = None
            if text.startswith("["):
                with contextlib.suppress(ValueError):
                    items = json.loads(text)
            if not isinstance(items, list):
                items = [item for item in re.split(r"[\s,]+", text) if item]
        names = []
        for item in items:
            name = str(item).strip()
            if name not in names:
                names.append(name)
        return names

    def validate(self, value):
        super().validate(value)
        for name in value:
            if "/" in name:
                kind = name.split("/", 1)[0]
                raise forms.ValidationError(
                    f"'{name}' is a component id: give its type, '{kind}' (it allows every {kind}/… id)."
                )
            try:
                component_name(name)
            except forms.ValidationError as error:
                raise forms.ValidationError(f"'{name}': {' '.join(error.messages)}") from None


class OrgSettingsForm(forms.ModelForm):
    """An organization's settings; the model's validators and constraints are the rules.

    Also the admin's form (core_app/admin.py), so both take the extra components the same way.
    """

    extra_allowed_components = ComponentTypesField(
        required=False,
        label="Extra allowed components",
        help_text=(
            "One component type per line (e.g. kafka): allowed in every section, "
            "whatever the gateways report. Leave empty for none."
        ),
    )

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
