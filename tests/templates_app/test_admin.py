import pytest
from django.test import Client

from core_app.models import AuditLog
from core_app.roles import Role
from templates_app.models import ConfigTemplate, TemplateVersion

from .conftest import PIPELINE_YAML

TEMPLATES = "/admin/templates_app/configtemplate/"
VERSIONS = "/admin/templates_app/templateversion/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_admin(alice):
    return client_for(alice)


class TestAddingVersions:
    def test_alice_adds_a_version_through_the_admin(self, alice_admin, template, alice):
        body = {"template": template.pk, "config_yaml": "receivers: {}\n", "change_summary": "trim"}
        response = alice_admin.post(f"{VERSIONS}add/", body)
        assert response.status_code == 302
        version = template.versions.get(number=2)
        assert (version.author, version.change_summary, version.config_yaml) == (alice, "trim", "receivers: {}\n")
        assert AuditLog.objects.filter(action="template_version.created", object_id=str(version.pk)).exists()

    def test_invalid_yaml_is_shown_on_the_field_with_line_and_column(self, alice_admin, template):
        body = {"template": template.pk, "config_yaml": "receivers:\n  otlp: [\n", "change_summary": ""}
        response = alice_admin.post(f"{VERSIONS}add/", body)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["config_yaml"][0].startswith("line 3, column 1: ")
        assert template.versions.count() == 1

    def test_only_templates_of_writable_orgs_are_offered(self, alice_admin, template, globex_template):
        choices = alice_admin.get(f"{VERSIONS}add/").context["adminform"].form.fields["template"].queryset
        assert list(choices) == [template]

    def test_another_orgs_template_cannot_be_posted(self, alice_admin, globex_template):
        body = {"template": globex_template.pk, "config_yaml": "receivers: {}\n", "change_summary": ""}
        response = alice_admin.post(f"{VERSIONS}add/", body)
        assert response.status_code == 200
        assert "template" in response.context["adminform"].form.errors
        assert globex_template.versions.count() == 1


class TestExistingVersions:
    def test_they_are_read_only_even_for_the_owner(self, alice_admin, template):
        version = template.versions.get()
        response = alice_admin.get(f"{VERSIONS}{version.pk}/change/")
        assert response.status_code == 200
        assert b'name="_save"' not in response.content
        response = alice_admin.post(f"{VERSIONS}{version.pk}/change/", {"config_yaml": "a: 1\n"})
        assert response.status_code == 403
        assert TemplateVersion.objects.get(pk=version.pk).config_yaml == PIPELINE_YAML

    def test_they_cannot_be_deleted(self, alice_admin, template):
        version = template.versions.get()
        assert alice_admin.post(f"{VERSIONS}{version.pk}/delete/", {"post": "yes"}).status_code == 403
        assert TemplateVersion.objects.filter(pk=version.pk).exists()


class TestTemplates:
    def test_the_changelist_shows_the_current_version(self, alice_admin, template):
        response = alice_admin.get(TEMPLATES)
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [template]
        assert response.context["cl"].result_list[0].current_version_number == 1

    def test_alice_creates_a_template_with_its_first_version(self, alice_admin, org, alice):
        body = {"organization": org.pk, "name": "core", "type": "full", "description": "", "config_yaml": "a: 1\n"}
        assert alice_admin.post(f"{TEMPLATES}add/", {**body, "change_summary": "init"}).status_code == 302
        template = ConfigTemplate.objects.get(name="core")
        assert (template.created_by, template.versions.get().number) == (alice, 1)

    def test_a_duplicate_name_is_shown_on_the_name_field(self, alice_admin, template, org):
        body = {"organization": org.pk, "name": "edge", "type": "full", "description": ""}
        response = alice_admin.post(f"{TEMPLATES}add/", body)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["name"] == [
            "A template with this name already exists in the organization."
        ]

    def test_the_change_page_lists_versions(self, alice_admin, template):
        response = alice_admin.get(f"{TEMPLATES}{template.pk}/change/")
        assert response.status_code == 200
        assert template.versions.get().sha256[:12].encode() in response.content


class TestViewers:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_bob_sees_templates_but_cannot_change_them(self, bob, template, org):
        client = client_for(bob)
        assert list(client.get(TEMPLATES).context["cl"].result_list) == [template]
        response = client.get(f"{TEMPLATES}{template.pk}/change/")
        assert response.status_code == 200
        assert b'name="_save"' not in response.content
        body = {"name": "renamed", "type": "full", "description": ""}
        assert client.post(f"{TEMPLATES}{template.pk}/change/", body).status_code == 403
        assert ConfigTemplate.objects.get(pk=template.pk).name == "edge"

    def test_bob_cannot_add_versions(self, bob, template):
        client = client_for(bob)
        body = {"template": template.pk, "config_yaml": "a: 1\n", "change_summary": ""}
        assert client.post(f"{VERSIONS}add/", body).status_code == 403
        assert template.versions.count() == 1


class TestOtherOrgs:
    def test_charlie_does_not_see_acmes_templates(self, charlie, template, globex_template):
        response = client_for(charlie).get(TEMPLATES)
        assert list(response.context["cl"].result_list) == [globex_template]
        assert b"Acme" not in response.content  # not even in the organization filter

    def test_charlie_cannot_open_acmes_template_or_version(self, charlie, template):
        client = client_for(charlie)
        assert client.get(f"{TEMPLATES}{template.pk}/change/").status_code in (302, 404)
        assert client.get(f"{VERSIONS}{template.versions.get().pk}/change/").status_code in (302, 404)
        assert list(client.get(VERSIONS).context["cl"].result_list) == []
