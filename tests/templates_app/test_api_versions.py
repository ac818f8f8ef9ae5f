import hashlib

import pytest

from core_app.models import AuditLog, Membership
from core_app.roles import Role
from core_app.services import set_membership
from templates_app.models import TemplateVersion
from templates_app.services import create_version

from .conftest import PIPELINE_YAML

NEW_YAML = PIPELINE_YAML.replace("debug: {}", "otlp/backend: {endpoint: backend:4317}")


def versions_url(template):
    return f"/api/v1/templates/{template.pk}/versions/"


def diff_url(template):
    return f"/api/v1/templates/{template.pk}/diff/"


class TestVersions:
    def test_it_lists_versions_newest_first_without_yaml(self, api_client, template, alice):
        create_version(template, config_yaml=NEW_YAML, change_summary="backend", author=alice)
        rows = api_client.get(versions_url(template)).json()["results"]
        assert [(row["number"], row["change_summary"], row["author"]) for row in rows] == [
            (2, "backend", "alice"),
            (1, "first cut", "alice"),
        ]
        assert "config_yaml" not in rows[0]

    def test_it_shows_one_version_with_its_yaml(self, api_client, template):
        body = api_client.get(f"{versions_url(template)}1/").json()
        assert (body["number"], body["config_yaml"]) == (1, PIPELINE_YAML)
        assert body["sha256"] == hashlib.sha256(PIPELINE_YAML.encode()).hexdigest()

    def test_an_unknown_number_is_not_found(self, api_client, template):
        assert api_client.get(f"{versions_url(template)}7/").status_code == 404

    def test_it_creates_the_next_version(self, api_client, template):
        response = api_client.post(versions_url(template), {"config_yaml": NEW_YAML, "change_summary": "backend"})
        assert response.status_code == 201
        assert response.json()["number"] == 2
        assert response.json()["sha256"] == hashlib.sha256(NEW_YAML.encode()).hexdigest()
        assert template.versions.get(number=2).author.username == "alice"
        assert AuditLog.objects.filter(action="template_version.created").count() == 2

    def test_the_yaml_is_kept_byte_for_byte(self, api_client, template):
        text = "\n\nreceivers: {}   \n\n"
        response = api_client.post(versions_url(template), {"config_yaml": text})
        assert template.versions.get(number=response.json()["number"]).config_yaml == text

    def test_the_template_shows_the_new_current_version(self, api_client, template):
        valid = PIPELINE_YAML.replace("debug: {}", "debug: {verbosity: basic}")
        assert api_client.post(versions_url(template), {"config_yaml": valid}).json()["deployable"] is True
        body = api_client.get(f"/api/v1/templates/{template.pk}/").json()
        assert (body["current_version"], body["latest_version"], body["version_count"]) == (2, 2, 2)

    def test_an_invalid_new_version_does_not_become_current(self, api_client, template):
        # NEW_YAML's pipeline names the "debug" exporter it no longer defines: invalid.
        created = api_client.post(versions_url(template), {"config_yaml": NEW_YAML}).json()
        assert (created["validation_state"], created["deployable"]) == ("invalid", False)
        body = api_client.get(f"/api/v1/templates/{template.pk}/").json()
        assert (body["current_version"], body["latest_version"], body["version_count"]) == (1, 2, 2)

    def test_invalid_yaml_is_a_400_with_line_and_column(self, api_client, template):
        response = api_client.post(versions_url(template), {"config_yaml": "receivers:\n  otlp: {\n"})
        assert response.status_code == 400
        assert response.json()["config_yaml"][0].startswith("line 3, column 1: ")
        assert template.versions.count() == 1

    @pytest.mark.parametrize(
        "body, field",
        [
            ({}, "config_yaml"),
            ({"config_yaml": ""}, "config_yaml"),
            ({"config_yaml": ["receivers"]}, "config_yaml"),
            ({"config_yaml": "a: 1\n", "change_summary": "x" * 501}, "change_summary"),
            ({"config_yaml": "a: 1\n", "number": 9}, "number"),
            ({"config_yaml": "a: 1\n", "sha256": "0" * 64}, "sha256"),
        ],
    )
    def test_it_rejects_bad_input_naming_the_field(self, api_client, template, body, field):
        response = api_client.post(versions_url(template), body)
        assert response.status_code == 400
        assert field in response.json()
        assert template.versions.count() == 1

    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    def test_versions_cannot_be_changed_or_deleted(self, api_client, template, method):
        response = getattr(api_client, method)(f"{versions_url(template)}1/", {"config_yaml": NEW_YAML})
        assert response.status_code == 405
        assert template.versions.get().config_yaml == PIPELINE_YAML


class TestDiff:
    def test_it_diffs_two_versions(self, api_client, template, alice):
        create_version(template, config_yaml=NEW_YAML, change_summary="", author=alice)
        response = api_client.get(diff_url(template), {"from": 1, "to": 2})
        assert response.status_code == 200
        body = response.json()
        assert (body["template"], body["from"], body["to"]) == (str(template.pk), 1, 2)
        assert body["diff"].startswith("--- edge v1\n+++ edge v2\n")
        assert "+  otlp/backend: {endpoint: backend:4317}\n" in body["diff"]

    @pytest.mark.parametrize(
        "query, field", [({"to": 1}, "from"), ({"from": 1}, "to"), ({"from": "one", "to": 1}, "from")]
    )
    def test_missing_or_bad_numbers_are_a_400(self, api_client, template, query, field):
        response = api_client.get(diff_url(template), query)
        assert response.status_code == 400
        assert field in response.json()

    def test_an_unknown_number_is_a_404_with_a_message(self, api_client, template):
        response = api_client.get(diff_url(template), {"from": 1, "to": 5})
        assert response.status_code == 404
        assert "Version 5" in response.json()["detail"]


class TestViewers:
    @pytest.fixture
    def bob_role(self):
        return Role.VIEWER

    def test_they_read_versions_and_diffs(self, bob_client, template):
        assert bob_client.get(versions_url(template)).status_code == 200
        assert bob_client.get(diff_url(template), {"from": 1, "to": 1}).status_code == 200

    def test_they_cannot_add_versions(self, bob_client, template):
        response = bob_client.post(versions_url(template), {"config_yaml": NEW_YAML})
        assert response.status_code == 403
        assert template.versions.count() == 1

    def test_being_editor_elsewhere_does_not_let_them_add_versions_here(self, bob, bob_client, template, other_org):
        # bob may write in globex, but only read in acme.
        set_membership(other_org, bob, Role.EDITOR)
        assert Membership.objects.filter(user=bob).count() == 2
        response = bob_client.post(versions_url(template), {"config_yaml": NEW_YAML})
        assert response.status_code == 403
        assert template.versions.count() == 1


class TestOtherOrgs:
    def test_their_versions_and_diffs_are_not_found(self, charlie_client, template):
        assert charlie_client.get(versions_url(template)).status_code == 404
        assert charlie_client.get(f"{versions_url(template)}1/").status_code == 404
        assert charlie_client.get(diff_url(template), {"from": 1, "to": 1}).status_code == 404

    def test_they_cannot_add_versions(self, charlie_client, template):
        response = charlie_client.post(versions_url(template), {"config_yaml": NEW_YAML})
        assert response.status_code == 404
        assert TemplateVersion.objects.filter(template=template).count() == 1
