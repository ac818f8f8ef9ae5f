"""Validation results stored on versions, shown by the API and the admin, and enforced by deployments."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core_app.models import AuditLog
from deployments_app.services import create_deployment
from gateways_app.models import Gateway
from templates_app.models import ValidationState
from templates_app.services import create_version, revalidate_version

from .validation_helpers import VALID

NO_EXPORTER = VALID.replace("      exporters: [otlphttp]\n", "")


def add_version(template, alice, text):
    return create_version(template, config_yaml=text, change_summary="", author=alice)


class TestStoredResults:
    def test_a_valid_version_is_stored_as_valid(self, template, alice):
        version = add_version(template, alice, VALID)
        version.refresh_from_db()
        assert (version.validation_state, version.validation_errors, version.validation_warnings) == ("valid", [], [])
        assert version.validated_at is not None

    def test_an_invalid_version_is_saved_with_its_errors(self, template, alice):
        version = add_version(template, alice, NO_EXPORTER)
        version.refresh_from_db()
        assert version.validation_state == ValidationState.INVALID
        assert version.validation_errors == [
            {
                "code": "structure.pipeline_exporters",
                "message": "Pipeline 'traces' must have at least one exporter.",
                "path": "service.pipelines.traces",
                "line": 12,
                "column": 5,
            }
        ]
        assert version.validation_warnings[0]["code"] == "structure.unused_component"

    def test_yaml_that_cannot_be_loaded_is_refused_and_writes_nothing(self, template, alice):
        with pytest.raises(ValidationError) as info:
            add_version(template, alice, "a: &a [*a, *a]\nb: &b [*a, *a]\nc: 1\nc: 2\n")
        assert info.value.message_dict["config_yaml"] == [
            "line 4, column 1: Duplicate key 'c' (first defined at line 3, column 1)."
        ]
        assert template.versions.count() == 1

    def test_the_template_type_is_taken_into_account(self, template, alice):
        # The fixture's template is a traces template; this config only has a logs pipeline.
        version = add_version(template, alice, VALID.replace("    traces:\n", "    logs:\n"))
        assert version.validation_state == ValidationState.WARNINGS

    def test_revalidating_stores_the_new_result_and_audits_it(self, template, alice, org):
        version = add_version(
            template, alice, VALID.replace("  batch: {}", "  scrub: {}").replace("[batch]", "[scrub]")
        )
        assert version.validation_state == ValidationState.INVALID
        Gateway.objects.create(
            organization=org,
            name="custom",
            available_components={"components": {"processors": {"sub_component_map": {"scrub": {}}}}},
        )
        revalidate_version(version, user=alice)
        version.refresh_from_db()
        assert (version.validation_state, version.validation_errors) == ("valid", [])
        entry = AuditLog.objects.get(action="template_version.revalidated")
        assert entry.changes == {"validation_state": {"from": "invalid", "to": "valid"}}


class TestShown:
    def test_the_version_api_shows_the_state_errors_and_warnings(self, api_client, template, alice):
        version = add_version(template, alice, NO_EXPORTER)
        url = reverse("template-version-detail", kwargs={"template_id": template.pk, "number": version.number})
        body = api_client.get(url).json()
        assert body["validation_state"] == "invalid"
        assert body["validation_errors"][0]["path"] == "service.pipelines.traces"
        assert (
            body["validation_warnings"][0]["message"] == "Exporter 'otlphttp' is defined but not used in any pipeline."
        )
        assert body["validated_at"]

    def test_the_version_list_shows_the_state(self, api_client, template, alice):
        add_version(template, alice, NO_EXPORTER)
        rows = api_client.get(reverse("template-version-list", kwargs={"template_id": template.pk})).json()["results"]
        assert [row["validation_state"] for row in rows] == ["invalid", "valid"]

    def test_creating_an_invalid_version_through_the_api_is_a_201_that_says_so(self, api_client, template):
        url = reverse("template-version-list", kwargs={"template_id": template.pk})
        response = api_client.post(url, {"config_yaml": NO_EXPORTER, "change_summary": "oops"})
        assert response.status_code == 201
        assert response.json()["validation_state"] == "invalid"

    def test_the_admin_shows_the_errors_of_a_version(self, client, alice, template):
        version = add_version(template, alice, NO_EXPORTER)
        client.force_login(alice)
        page = client.get(reverse("admin:templates_app_templateversion_change", args=[version.pk])).content.decode()
        assert "Invalid" in page
        assert "Pipeline &#x27;traces&#x27; must have at least one exporter." in page
        assert "line 12, column 5" in page

    def test_adding_an_invalid_version_in_the_admin_says_it_cannot_be_deployed(self, client, alice, template):
        client.force_login(alice)
        url = reverse("admin:templates_app_templateversion_add")
        data = {"template": template.pk, "config_yaml": NO_EXPORTER, "change_summary": ""}
        response = client.post(url, data, follow=True)
        text = " ".join(str(message) for message in response.context["messages"])
        assert "edge v2 is invalid: Pipeline 'traces' must have at least one exporter. (line 12, column 5)" in text
        assert "It cannot be deployed." in text

    def test_creating_a_template_with_an_invalid_config_in_the_admin_says_so(self, client, alice, org):
        client.force_login(alice)
        data = {"organization": org.pk, "name": "new", "type": "full", "description": "", "config_yaml": NO_EXPORTER}
        response = client.post(reverse("admin:templates_app_configtemplate_add"), data, follow=True)
        text = " ".join(str(message) for message in response.context["messages"])
        assert "new v1 is invalid" in text

    def test_the_admin_action_validates_again(self, client, alice, template):
        version = template.versions.get()
        client.force_login(alice)
        url = reverse("admin:templates_app_templateversion_changelist")
        client.post(url, {"action": "revalidate", "_selected_action": [version.pk]})
        assert AuditLog.objects.filter(action="template_version.revalidated", object_id=str(version.pk)).exists()


@pytest.mark.django_db
class TestDeployments:
    def test_an_invalid_version_cannot_be_deployed(self, template, alice, org, gateway):
        version = add_version(template, alice, NO_EXPORTER)
        with pytest.raises(ValidationError) as info:
            create_deployment(org, template_version=version, selector_gateways=[gateway], user=alice)
        message = info.value.message_dict["template_version"][0]
        assert message.startswith("edge v2 is invalid: Pipeline 'traces' must have at least one exporter.")
        assert not version.deployments.exists()

    def test_the_deployment_api_answers_400_naming_the_version(self, api_client, template, alice, gateway):
        version = add_version(template, alice, NO_EXPORTER)
        body = {"template_version": str(version.pk), "selector_gateways": [str(gateway.pk)]}
        response = api_client.post(reverse("deployment-list"), body)
        assert response.status_code == 400
        assert "is invalid" in response.json()["template_version"][0]

    def test_a_valid_version_with_warnings_can_be_deployed(self, template, alice, org, gateway):
        version = add_version(template, alice, VALID.replace("  batch: {}\n", "  batch: {}\n  batch/2: {}\n"))
        deployment = create_deployment(org, template_version=version, selector_gateways=[gateway], user=alice)
        assert deployment.pk
