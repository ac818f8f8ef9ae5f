"""Forms of the gateways app, shared by the admin and the pages."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from gateways_app.models import Gateway, RegistrationToken
from gateways_app.services import parse_tag

MAX_USES_MESSAGE = "A registration token allows at least one use."


class SameOrgTagsMixin:
    """The chosen tags must belong to the object's organization."""

    def clean(self):
        cleaned = super().clean()
        org = cleaned.get("organization")
        org_id = org.pk if org is not None else self.instance.organization_id
        for tag in cleaned.get("tags") or []:
            if tag.organization_id != org_id:
                self.add_error("tags", f"The tag {tag} belongs to another organization.")
                break
        return cleaned


class GatewayForm(SameOrgTagsMixin, forms.ModelForm):
    """What people may change on a gateway: its name and tags (the rest is reported by it)."""

    class Meta:
        model = Gateway
        fields = ["name", "tags"]

    def clean_name(self):
        # The (organization, name) constraint is not checked by ModelForm: organization is not a field here.
        name = self.cleaned_data["name"]
        if self.instance.organization_id is not None:
            others = Gateway.objects.for_org(self.instance.organization).filter(name=name).exclude(pk=self.instance.pk)
            if others.exists():
                raise forms.ValidationError("A gateway with this name already exists in the organization.")
        return name


class RegistrationTokenForm(SameOrgTagsMixin, forms.ModelForm):
    """Create (or, for name, max uses and tags, edit) a registration token.

    `max_uses` is checked here in words: left to the model, 0 reached the database's check constraint,
    whose name was the only message. `new_tags` (pages) lets one type tags that do not exist yet,
    as on the gateway page; they are created with the token (services.resolve_tags).
    """

    max_uses = forms.IntegerField(
        min_value=1,
        max_value=100000,
        initial=1,
        error_messages={"min_value": MAX_USES_MESSAGE},
        help_text="How many gateways may enroll with it.",
    )
    expires_at = forms.DateTimeField(
        required=False, help_text="Leave empty for the organization's registration token lifetime."
    )
    new_tags = forms.CharField(
        required=False,
        label="New tags",
        widget=forms.TextInput(attrs={"placeholder": "env=prod region=eu-west"}),
        help_text="Space-separated key=value pairs; missing tags are created.",
    )

    class Meta:
        model = RegistrationToken
        fields = ["organization", "name", "max_uses", "expires_at", "tags", "allow_re_enroll"]

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return value

    def clean_new_tags(self):
        """["key=value", ...] without duplicates; the first malformed one is the error."""
        pairs = []
        for text in self.cleaned_data["new_tags"].split():
            try:
                pair = parse_tag(text)
            except ValidationError as error:
                raise forms.ValidationError(error.messages) from None
            if pair not in pairs:
                pairs.append(pair)
        return [f"{key}={value}" for key, value in pairs]

    def chosen_tags(self):
        """The tags picked in the list and those typed as new: Tag rows and "key=value" strings."""
        return [*(self.cleaned_data.get("tags") or []), *self.cleaned_data.get("new_tags", [])]

    def clean_max_uses(self):
        value = self.cleaned_data["max_uses"]
        if self.instance.pk and value is not None and value < self.instance.uses:
            raise forms.ValidationError(f"The token has already been used {self.instance.uses} time(s).")
        return value
