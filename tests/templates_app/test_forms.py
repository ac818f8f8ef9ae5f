import pytest

from core_app.roles import Role
from templates_app.forms import ConfigTemplateForm, TemplateVersionForm


class TestForPages:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_the_version_form_offers_only_templates_the_user_may_edit(self, alice, bob, template, globex_template):
        assert list(TemplateVersionForm(user=alice).fields["template"].queryset) == [template]
        assert list(TemplateVersionForm(user=bob).fields["template"].queryset) == []

    def test_the_template_form_offers_only_orgs_the_user_may_write_in(self, alice, bob, org, other_org):
        assert list(ConfigTemplateForm(user=alice).fields["organization"].queryset) == [org]
        assert list(ConfigTemplateForm(user=bob).fields["organization"].queryset) == []

    def test_the_version_form_keeps_surrounding_whitespace(self, alice, template):
        text = "\nreceivers: {}  \n\n"
        form = TemplateVersionForm({"template": template.pk, "config_yaml": text}, user=alice)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["config_yaml"] == text

    def test_an_existing_template_has_no_yaml_field(self, template):
        assert "config_yaml" not in ConfigTemplateForm(instance=template).fields
