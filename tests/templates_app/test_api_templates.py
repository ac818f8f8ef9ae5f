import pytest

from core_app.models import AuditLog
from core_app.roles import Role
from deployments_app.models import Deployment
from templates_app.models import ConfigTemplate, TemplateVersion
from templates_app.services import create_template, create_version

from .conftest import PIPELINE_YAML

URL = "/api/v1/templates/"


def detail_url(template):
    return f"{URL}{template.pk}/"


class TestList:
    def test_it_shows_current_version_and_version_count(self, api_client, template, alice):
        create_version(template, config_yaml=PIPELINE_YAML + "# v2\n", change_summary="", author=alice)
        response = api_client.get(URL)
        assert response.status_code == 200
        [row] = response.json()["results"]
        assert (
            row["name"],
            row["organization"],
            row["current_version"],
            row["latest_version"],
            row["version_count"],
        ) == ("edge", "acme", 2, 2, 2)

    def test_an_invalid_newest_version_is_not_current(self, api_client, template, alice):
        create_version(template, config_yaml="a: 1\n", change_summary="", author=alice)
        [row] = api_client.get(URL).json()["results"]
        # v2 is invalid: current stays v1 (what a deployment would use), latest says v2 exists.
        assert (row["current_version"], row["latest_version"], row["version_count"]) == (1, 2, 2)

    def test_a_template_without_versions_has_no_current_version(self, api_client, org, alice):
        create_template(org, name="blank", author=alice)
        [row] = api_client.get(URL).json()["results"]
        assert (row["current_version"], row["version_count"]) == (None, 0)

    def test_it_hides_other_orgs_templates(self, charlie_client, template, globex_template):
        names = [row["name"] for row in charlie_client.get(URL).json()["results"]]
        assert names == ["globex-edge"]

    def test_it_filters_by_type_and_name(self, api_client, org, alice):
        create_template(org, name="edge-logs", type="logs", author=alice)
        create_template(org, name="core-logs", type="logs", author=alice)
        create_template(org, name="edge-metrics", type="metrics", author=alice)
        response = api_client.get(URL, {"type": "logs", "name": "EDGE"})
        assert [row["name"] for row in response.json()["results"]] == ["edge-logs"]

    def test_it_filters_by_organization_slug(self, api_client, template):
        assert api_client.get(URL, {"organization": "acme"}).json()["count"] == 1
        assert api_client.get(URL, {"organization": "globex"}).json()["count"] == 0

    def test_it_searches_names_and_descriptions(self, api_client, org, alice):
        create_template(org, name="a", description="ships logs to Loki", author=alice)
        create_template(org, name="b", description="metrics to Mimir", author=alice)
        assert [row["name"] for row in api_client.get(URL, {"search": "loki"}).json()["results"]] == ["a"]

    def test_it_orders_by_version_count(self, api_client, template, org, alice):
        create_template(org, name="zero", author=alice)
        rows = api_client.get(URL, {"ordering": "-version_count"}).json()["results"]
        assert [row["name"] for row in rows] == ["edge", "zero"]

    def test_it_paginates(self, api_client, org, alice):
        for index in range(3):
            create_template(org, name=f"t{index}", author=alice)
        body = api_client.get(URL, {"page_size": 2, "page": 2}).json()
        assert body["count"] == 3
        assert [row["name"] for row in body["results"]] == ["t2"]


class TestCreate:
    def test_it_creates_a_template_with_version_1(self, api_client, org):
        body = {"name": "edge", "type": "traces", "config_yaml": PIPELINE_YAML, "change_summary": "first"}
        response = api_client.post(URL, body)
        assert response.status_code == 201
        assert (response.json()["current_version"], response.json()["version_count"]) == (1, 1)
        version = TemplateVersion.objects.get(template__name="edge")
        assert (version.number, version.config_yaml, version.change_summary) == (1, PIPELINE_YAML, "first")

    def test_it_defaults_to_the_callers_only_org_and_audits(self, api_client, org):
        response = api_client.post(URL, {"name": "edge"})
        assert response.status_code == 201
        assert response.json()["organization"] == "acme"
        assert response.json()["created_by"] == "alice"
        assert AuditLog.objects.get(action="template.created").object_id == response.json()["id"]

    def test_invalid_yaml_is_a_400_naming_the_line_and_writes_nothing(self, api_client, org):
        response = api_client.post(URL, {"name": "edge", "config_yaml": "receivers:\n  otlp: [\n"})
        assert response.status_code == 400
        assert response.json()["config_yaml"][0].startswith("line 3, column 1: ")
        assert not ConfigTemplate.objects.exists()

    def test_a_duplicate_name_is_a_400_with_a_message(self, api_client, template):
        response = api_client.post(URL, {"name": "edge"})
        assert response.status_code == 400
        assert response.json() == {"name": ["A template with this name already exists in the organization."]}

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"name": "x" * 101}, "name"),
            ({"name": ""}, "name"),
            ({"name": ["edge"]}, "name"),
            ({"name": "edge", "type": "everything"}, "type"),
            ({"name": "edge", "description": "x" * 2001}, "description"),
            ({"name": "edge", "config_yaml": {"receivers": {}}}, "config_yaml"),
            ({"name": "edge", "config_yaml": "- a list\n"}, "config_yaml"),
            ({"name": "edge", "change_summary": "x" * 501}, "change_summary"),
            ({"name": "edge", "organization": "globex"}, "organization"),
            ({"name": "edge", "colour": "blue"}, "colour"),
        ],
    )
    def test_it_rejects_bad_input_naming_the_field(self, api_client, org, other_org, body, field):
        response = api_client.post(URL, body)
        assert response.status_code == 400
        assert field in response.json()
        assert not ConfigTemplate.objects.exists()


class TestUpdateAndDelete:
    def test_it_renames_and_audits(self, api_client, template):
        response = api_client.patch(detail_url(template), {"name": "edge-v2", "type": "full"})
        assert response.status_code == 200
        assert (response.json()["name"], response.json()["current_version"]) == ("edge-v2", 1)
        entry = AuditLog.objects.get(action="template.updated")
        assert entry.changes["name"] == {"from": "edge", "to": "edge-v2"}

    def test_put_replaces_the_editable_fields(self, api_client, template):
        response = api_client.put(detail_url(template), {"name": "edge", "type": "logs", "description": ""})
        assert response.status_code == 200
        template.refresh_from_db()
        assert (template.type, template.description) == ("logs", "")

    def test_renaming_to_an_existing_name_is_a_400(self, api_client, template, org, alice):
        other = create_template(org, name="core", author=alice)
        response = api_client.patch(detail_url(other), {"name": "edge"})
        assert response.status_code == 400
        assert "name" in response.json()
        assert ConfigTemplate.objects.get(pk=other.pk).name == "core"

    @pytest.mark.parametrize("field", ["config_yaml", "organization", "current_version"])
    def test_it_refuses_fields_that_cannot_change(self, api_client, template, field):
        response = api_client.patch(detail_url(template), {field: "x: 1\n"})
        assert response.status_code == 400
        assert field in response.json()

    def test_it_deletes_a_template_and_its_versions(self, api_client, template):
        assert api_client.delete(detail_url(template)).status_code == 204
        assert not TemplateVersion.objects.exists()
        assert AuditLog.objects.filter(action="template.deleted").count() == 1

    def test_a_template_in_use_by_a_deployment_is_a_409(self, api_client, template, org):
        Deployment.objects.create(organization=org, template_version=template.versions.get())
        response = api_client.delete(detail_url(template))
        assert response.status_code == 409
        assert "in use" in response.json()["detail"]
        assert ConfigTemplate.objects.filter(pk=template.pk).exists()
        # Nothing was deleted, so nothing is audited as deleted.
        assert not AuditLog.objects.filter(action="template.deleted").exists()


class TestViewers:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_they_can_read(self, bob_client, template):
        assert bob_client.get(detail_url(template)).status_code == 200

    def test_they_cannot_create_change_or_delete(self, bob_client, template):
        assert bob_client.post(URL, {"name": "new"}).status_code == 403
        assert bob_client.patch(detail_url(template), {"name": "x"}).status_code == 403
        assert bob_client.delete(detail_url(template)).status_code == 403
        assert list(ConfigTemplate.objects.values_list("name", flat=True)) == ["edge"]


class TestOtherOrgs:
    def test_their_templates_are_not_found(self, charlie_client, template):
        assert charlie_client.get(detail_url(template)).status_code == 404
        assert charlie_client.patch(detail_url(template), {"name": "mine"}).status_code == 404
        assert charlie_client.delete(detail_url(template)).status_code == 404
        assert ConfigTemplate.objects.get(pk=template.pk).name == "edge"
