"""Forms of the templates app, shared by the admin and pages.

Both forms validate collector YAML through `services.parse_collector_yaml`, so a YAML error
is shown on the `config_yaml` field with its line and column. Saving goes through the
services (`create_template`, `save_template`, `create_version`), never `form.save()` alone.
"""

from django import forms
from django.core.exceptions import ValidationError

from core_app.models import Organization
from core_app.roles import Role
from templates_app import services
from templates_app.models import ConfigTemplate, TemplateVersion


def _check_yaml(form, text):
    try:
        services.parse_collector_yaml(text)
    except ValidationError as exc:
        form.add_error(None, exc)  # the error dict names config_yaml


class ConfigTemplateForm(forms.ModelForm):
    """A template's own fields; on creation, optionally its first version's YAML.

    With `user`, the organization choices are those where the user may write (pages);
    the admin narrows them itself.
    """

    config_yaml = forms.CharField(
        label="Initial configuration (YAML)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 20, "class": "vLargeTextField", "spellcheck": "false"}),
        help_text="Optional: becomes version 1.",
    )
    change_summary = forms.CharField(required=False, max_length=500)

    class Meta:
        model = ConfigTemplate
        fields = ["organization", "name", "type", "description"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and "organization" in self.fields:
            self.fields["organization"].queryset = Organization.objects.for_user(user, min_role=Role.EDITOR)
        if not self.instance._state.adding:
            # Versions of an existing template are added one by one, not through this form.
            for name in ("config_yaml", "change_summary"):
                self.fields.pop(name, None)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("config_yaml"):
            _check_yaml(self, cleaned["config_yaml"])
        org = cleaned.get("organization") or getattr(self.instance, "organization", None)
        name = cleaned.get("name")
        if org is not None and name:
            others = ConfigTemplate.objects.for_org(org).filter(name=name).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("name", services.DUPLICATE_NAME_MESSAGE)
        return cleaned


class TemplateVersionForm(forms.ModelForm):
    """A new version: the template it belongs to, its YAML and a change summary.

    With `user`, the template choices are those the user may edit (pages); the admin
    narrows them itself.
    """

    class Meta:
        model = TemplateVersion
        fields = ["template", "config_yaml", "change_summary"]
        widgets = {"config_yaml": forms.Textarea(attrs={"rows": 24, "class": "vLargeTextField", "spellcheck": "false"})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "config_yaml" in self.fields:
            self.fields["config_yaml"].strip = False  # keep the YAML byte for byte (its sha256)
        if user is not None and "template" in self.fields:
            self.fields["template"].queryset = ConfigTemplate.objects.for_user(user, min_role=Role.EDITOR)

    def clean(self):
        cleaned = super().clean()
        if "config_yaml" in cleaned:
            _check_yaml(self, cleaned["config_yaml"])
        return cleaned
