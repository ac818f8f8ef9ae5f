import hashlib
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from core_app.models import AuditLog
from templates_app.models import ConfigTemplate, TemplateVersion
from templates_app.services import create_template, create_version, diff_versions, parse_collector_yaml

from .conftest import PIPELINE_YAML


def yaml_error(text):
    with pytest.raises(ValidationError) as info:
        parse_collector_yaml(text)
    return info.value.message_dict["config_yaml"][0]


class TestParseCollectorYaml:
    def test_it_returns_the_mapping(self):
        assert parse_collector_yaml(PIPELINE_YAML)["exporters"] == {"debug": {}}

    def test_it_reports_a_syntax_error_with_line_and_column(self):
        # The unclosed flow sequence on line 3 is noticed at the start of line 4.
        message = yaml_error("receivers:\n  otlp: {}\nexporters: [debug\nservice: {}\n")
        assert message.startswith("line 4, column 8: ")

    def test_it_reports_bad_indentation_with_line_and_column(self):
        message = yaml_error("receivers:\n  otlp:\n    a: 1\n   b: 2\n")
        assert message.startswith("line 4, column 4: ")

    def test_it_reports_control_characters_with_line_and_column(self):
        message = yaml_error("receivers:\n  otlp: \x07\n")
        assert message.startswith("line 2, column 9: ")

    @pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text", "42"])
    def test_it_rejects_documents_that_are_not_mappings(self, text):
        assert "must be a YAML mapping" in yaml_error(text)

    def test_it_rejects_configs_over_the_size_limit(self, settings):
        settings.FLOWGATE_MAX_CONFIG_BYTES = 100
        assert "the limit is 100 bytes" in yaml_error("receivers: {}\n" + "#" * 100)

    def test_it_refuses_python_specific_tags(self):
        message = yaml_error("receivers: !!python/object/apply:os.system ['true']\n")
        assert message.startswith("line 1, column 12: ")


class TestCreateTemplate:
    def test_it_creates_version_1_with_the_yaml(self, org, alice):
        template = create_template(org, name="edge", author=alice, config_yaml=PIPELINE_YAML, change_summary="init")
        version = template.versions.get()
        assert (version.number, version.config_yaml, version.author) == (1, PIPELINE_YAML, alice)
        assert template.created_by == alice

    def test_it_creates_no_version_without_yaml(self, org, alice):
        template = create_template(org, name="empty", author=alice)
        assert template.versions.count() == 0

    def test_it_writes_nothing_when_the_yaml_is_invalid(self, org, alice):
        with pytest.raises(ValidationError) as info:
            create_template(org, name="edge", author=alice, config_yaml="receivers: [\n")
        assert "config_yaml" in info.value.message_dict
        assert not ConfigTemplate.objects.exists()
        assert not AuditLog.objects.filter(action="template.created").exists()

    def test_it_rejects_a_duplicate_name_in_the_same_org(self, template, org, alice):
        with pytest.raises(ValidationError) as info:
            create_template(org, name="edge", author=alice)
        assert info.value.message_dict == {"name": ["A template with this name already exists in the organization."]}

    def test_it_allows_the_same_name_in_another_org(self, template, other_org, charlie):
        assert create_template(other_org, name="edge", author=charlie).name == "edge"

    def test_it_audits_the_creation(self, template, alice):
        entry = AuditLog.objects.get(action="template.created")
        assert (entry.actor_user, entry.object_id, entry.changes["name"]) == (alice, str(template.pk), "edge")


class TestCreateVersion:
    def test_it_numbers_versions_one_after_another(self, template, alice):
        second = create_version(template, config_yaml="receivers: {}\n", change_summary="", author=alice)
        third = create_version(template, config_yaml="exporters: {}\n", change_summary="", author=alice)
        assert (second.number, third.number) == (2, 3)

    def test_numbers_are_per_template(self, template, org, alice):
        other = create_template(org, name="other", author=alice, config_yaml="receivers: {}\n")
        assert other.versions.get().number == 1

    def test_it_stores_the_sha256_of_the_yaml(self, template):
        version = template.versions.get()
        assert version.sha256 == hashlib.sha256(PIPELINE_YAML.encode()).hexdigest()

    def test_it_refuses_invalid_yaml_and_keeps_the_numbering(self, template, alice):
        with pytest.raises(ValidationError):
            create_version(template, config_yaml="a: [\n", change_summary="", author=alice)
        assert create_version(template, config_yaml="a: 1\n", change_summary="", author=alice).number == 2

    def test_it_uses_the_given_time(self, template, alice):
        now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        version = create_version(template, config_yaml="a: 1\n", change_summary="", author=alice, now=now)
        assert TemplateVersion.objects.get(pk=version.pk).created_at == now
        assert ConfigTemplate.objects.get(pk=template.pk).updated_at == now

    def test_it_audits_the_new_version(self, template, alice):
        version = create_version(template, config_yaml="a: 1\n", change_summary="tweak", author=alice)
        entry = AuditLog.objects.get(action="template_version.created", object_id=str(version.pk))
        assert entry.changes == {"template": str(template.pk), "number": 2, "sha256": version.sha256}
        assert entry.actor_user == alice


class TestImmutability:
    def test_saving_an_existing_version_is_refused(self, template):
        version = template.versions.get()
        version.config_yaml = "exporters: {}\n"
        with pytest.raises(TypeError, match="immutable"):
            version.save()
        assert TemplateVersion.objects.get(pk=version.pk).config_yaml == PIPELINE_YAML

    def test_queryset_update_is_refused(self, template):
        with pytest.raises(TypeError, match="immutable"):
            TemplateVersion.objects.filter(template=template).update(config_yaml="x: 1\n")
        assert template.versions.get().config_yaml == PIPELINE_YAML


class TestDiffVersions:
    def test_it_gives_a_unified_diff_with_version_headers(self, template, alice):
        changed = PIPELINE_YAML.replace("debug: {}", "otlp/backend: {endpoint: backend:4317}")
        second = create_version(template, config_yaml=changed, change_summary="", author=alice)
        diff = diff_versions(template.versions.get(number=1), second)
        assert diff.startswith("--- edge v1\n+++ edge v2\n@@ ")
        assert "\n-  debug: {}\n+  otlp/backend: {endpoint: backend:4317}\n" in diff

    def test_identical_versions_give_an_empty_diff(self, template, alice):
        again = create_version(template, config_yaml=PIPELINE_YAML, change_summary="", author=alice)
        assert diff_versions(template.versions.get(number=1), again) == ""

    def test_it_refuses_versions_of_different_templates(self, template, org, alice):
        other = create_template(org, name="other", author=alice, config_yaml="a: 1\n")
        with pytest.raises(ValueError):
            diff_versions(template.versions.get(), other.versions.get())
