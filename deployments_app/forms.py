"""The deployment form, shared by the admin and the pages.

It validates through `services.check_deployment` (the same rules as the API) and is saved
through `services.create_deployment(**form.deployment_kwargs(), ...)`, never `form.save()`.
"""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from core_app.models import Organization, Strategy
from core_app.roles import Role
from deployments_app import services
from deployments_app.models import Deployment
from gateways_app.models import Gateway, Tag
from templates_app.models import TemplateVersion

ORG_DEFAULT = "Organization default"


def _setting_field(name):
    """A form field for a deployment setting; left empty, the organization's default applies."""
    return Deployment._meta.get_field(name).formfield(required=False)


class DeploymentForm(forms.ModelForm):
    """A new deployment: what to send (a template version), where (selector) and how (strategy).

    With `user`, every choice is narrowed to the organizations where the user may write
    (pages); the admin narrows them itself through OrgScopedAdminMixin.
    """

    strategy = forms.ChoiceField(choices=[("", ORG_DEFAULT), *Strategy.choices], required=False)
    batch_size = _setting_field("batch_size")
    batch_percent = _setting_field("batch_percent")
    canary_count = _setting_field("canary_count")
    canary_percent = _setting_field("canary_percent")
    pause_seconds = _setting_field("pause_seconds")
    health_window_seconds = _setting_field("health_window_seconds")
    apply_timeout_seconds = _setting_field("apply_timeout_seconds")
    failure_threshold_count = _setting_field("failure_threshold_count")
    failure_threshold_percent = _setting_field("failure_threshold_percent")
    auto_rollback = forms.TypedChoiceField(
        choices=[("", ORG_DEFAULT), ("true", "Yes"), ("false", "No")],
        coerce=lambda value: value == "true",
        empty_value=None,
        required=False,
    )
    force = forms.BooleanField(
        required=False,
        label="Force past the target check",
        help_text="Deploy even to gateways that lack components the version uses. Admins and owners only; audited.",
    )

    class Meta:
        model = Deployment
        fields = ["organization", "template_version", "selector_tags", "selector_gateways"]

    # Who submits the form (forcing needs the admin role): the pages pass `user`, the admin sets this.
    actor = None

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = user or self.actor
        if user is not None:
            self.fields["organization"].queryset = Organization.objects.for_user(user, min_role=Role.EDITOR)
            self.fields["template_version"].queryset = TemplateVersion.objects.for_user(user, min_role=Role.EDITOR)
            self.fields["selector_tags"].queryset = Tag.objects.for_user(user, min_role=Role.EDITOR)
            self.fields["selector_gateways"].queryset = Gateway.objects.for_user(user, min_role=Role.EDITOR)
        versions = self.fields["template_version"]
        # Each choice is labelled "<template> v<n>": fetch the templates in the same query.
        versions.queryset = deployable(versions.queryset.select_related("template"))

    def deployment_kwargs(self):
        """The cleaned data as keyword arguments of services.check/create_deployment."""
        data = self.cleaned_data
        kwargs = {name: data.get(name) for name in services.PARAM_FIELDS}
        kwargs["strategy"] = kwargs["strategy"] or None
        return {
            "template_version": data["template_version"],
            "selector_tags": list(data.get("selector_tags") or []),
            "selector_gateways": list(data.get("selector_gateways") or []),
            "force": bool(data.get("force")),
            **kwargs,
        }

    def clean(self):
        cleaned = super().clean()
        org = cleaned.get("organization")
        if org is None or cleaned.get("template_version") is None:
            return cleaned
        try:
            services.check_deployment(org, **self.deployment_kwargs(), user=self.actor)
        except PermissionDenied as exc:
            self.add_error("force", str(exc))
        except ValidationError as exc:
            self.add_error(None, exc)  # the error dict names the fields
        return cleaned


def deployable(versions):
    """Only the versions a deployment may use are offered (TemplateVersion.is_deployable as a filter)."""
    return versions.deployable()
