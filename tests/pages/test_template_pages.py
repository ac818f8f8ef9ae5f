"""Template pages: create, new versions in the editor, validate as you type, diff, diagram, roll back."""

import json

import pytest
from django.urls import reverse

from core_app.diffview import side_by_side_rows, unified_rows
from deployments_app.models import Deployment
from templates_app.diagram import pipeline_diagram
from templates_app.models import ConfigTemplate, TemplateVersion
from templates_app.services import diff_versions, parse_collector_yaml

from .conftest import CONFIG_V1, CONFIG_V2

pytestmark = pytest.mark.django_db


def test_it_creates_a_template_with_its_first_version(alice_browser, org):
    data = {"name": "edge", "type": "traces", "description": "", "config_yaml": CONFIG_V1, "change_summary": ""}
    response = alice_browser.post(reverse("templates:create"), data)
    template = ConfigTemplate.objects.get(name="edge")
    assert response["Location"] == reverse("templates:detail", args=[template.pk])
    assert template.organization == org
    assert template.current_version().config_yaml == CONFIG_V1


def test_invalid_yaml_is_an_error_naming_its_line(alice_browser, org):
    data = {"name": "edge", "type": "full", "config_yaml": "receivers:\n  otlp: {\n", "change_summary": ""}
    response = alice_browser.post(reverse("templates:create"), data)
    assert response.status_code == 200
    assert "line 3" in " ".join(response.context["form"].errors["config_yaml"])
    assert 'id="errors-config_yaml"' in response.content.decode()
    assert not ConfigTemplate.objects.exists()


def test_a_duplicate_name_is_an_error_next_to_the_name(alice_browser, acme_fleet):
    data = {"name": "acme-traces", "type": "full", "config_yaml": "", "change_summary": ""}
    response = alice_browser.post(reverse("templates:create"), data)
    assert "already exists" in response.context["form"].errors["name"][0]
    assert 'id="errors-name"' in response.content.decode()


def test_editing_saves_a_new_version_with_its_summary(alice_browser, acme_fleet):
    template = acme_fleet["template"]
    data = {"config_yaml": CONFIG_V1 + "# three\n", "change_summary": "Comment"}
    response = alice_browser.post(reverse("templates:edit", args=[template.pk]), data)
    assert response["Location"] == reverse("templates:version", args=[template.pk, 3])
    version = template.versions.get(number=3)
    assert version.change_summary == "Comment" and version.author.username == "alice"


def test_the_editor_starts_from_the_current_version(alice_browser, acme_fleet):
    response = alice_browser.get(reverse("templates:edit", args=[acme_fleet["template"].pk]))
    assert response.context["form"]["config_yaml"].value() == CONFIG_V2
    assert "data-yaml-editor" in response.content.decode()


def test_the_validate_endpoint_locates_errors(alice_browser, org):
    body = {"config_yaml": "receivers:\n  otlp:\n    protocols: [\n", "type": "full"}
    response = alice_browser.post(reverse("templates:validate"), json.dumps(body), content_type="application/json")
    result = response.json()
    assert result["valid"] is False
    assert result["errors"][0]["line"] == 4


def test_the_validate_endpoint_reports_unknown_pipeline_references(alice_browser, org):
    text = CONFIG_V1.replace("exporters: [debug]", "exporters: [nowhere]")
    response = alice_browser.post(
        reverse("templates:validate"), json.dumps({"config_yaml": text}), content_type="application/json"
    )
    errors = response.json()["errors"]
    assert errors and errors[0]["line"] == text.splitlines().index("      exporters: [nowhere]") + 1


def test_the_validate_endpoint_refuses_a_body_without_yaml(alice_browser, org):
    response = alice_browser.post(reverse("templates:validate"), "{}", content_type="application/json")
    assert response.status_code == 400
    assert "config_yaml" in response.json()


def test_the_diff_page_shows_both_sides(alice_browser, acme_fleet):
    url = reverse("templates:diff", args=[acme_fleet["template"].pk]) + "?from=1&to=2"
    response = alice_browser.get(url)
    content = response.content.decode()
    assert '<td class="del">  batch: {}</td>' in content
    assert '<td class="add">    timeout: 5s</td>' in content


def test_the_unified_diff_numbers_lines(acme_fleet):
    old, new = acme_fleet["template"].versions.order_by("number")
    rows = unified_rows(diff_versions(old, new))
    added = [row for row in rows if row.kind == "add"]
    assert [(row.new, row.text) for row in added] == [(6, "  batch:"), (7, "    timeout: 5s")]


def test_side_by_side_pairs_removed_and_added_lines(acme_fleet):
    old, new = acme_fleet["template"].versions.order_by("number")
    changed = [
        pair for pair in side_by_side_rows(diff_versions(old, new)) if pair.kind == "line" and pair.left != pair.right
    ]
    assert changed[0].left.text == "  batch: {}" and changed[0].right.text == "  batch:"
    assert changed[1].left is None and changed[1].right.text == "    timeout: 5s"


def test_the_diagram_draws_each_pipeline_in_order():
    data = parse_collector_yaml(CONFIG_V1.replace("processors: [batch]", "processors: [batch, missing]"))
    diagram = pipeline_diagram(data)
    nodes = diagram.bands[0].nodes
    assert [(node.full_name, node.kind, node.missing) for node in nodes] == [
        ("otlp", "receivers", False),
        ("batch", "processors", False),
        ("missing", "processors", True),
        ("debug", "exporters", False),
    ]
    assert len(diagram.bands[0].edges) == 3


def test_the_version_page_shows_the_diagram(alice_browser, acme_fleet):
    content = alice_browser.get(reverse("templates:version", args=[acme_fleet["template"].pk, 2])).content.decode()
    assert 'data-pipeline="traces"' in content and ">otlp</text>" in content


def test_the_list_shows_type_version_validation_and_where_deployed(alice_browser, acme_fleet):
    from deployments_app import rollout

    rollout.advance(acme_fleet["deployment"].pk)  # sends batch 0: the gateways' desired config is v2
    content = alice_browser.get(reverse("templates:list")).content.decode()
    assert ">v2</a>" in content and "of 2" in content
    assert "1 gateway deployed</a>" in content  # rolling, 25 % per batch: batch 0 is one of the three


def test_rolling_back_to_a_version_creates_a_deployment(alice_browser, acme_fleet):
    from deployments_app import actions, rollout

    rollout.advance(acme_fleet["deployment"].pk)
    actions.cancel(acme_fleet["deployment"].pk)
    url = reverse("templates:rollback", args=[acme_fleet["template"].pk, 1])
    response = alice_browser.post(url)
    deployment = Deployment.objects.exclude(pk=acme_fleet["deployment"].pk).get()
    assert response["Location"] == reverse("deployments:detail", args=[deployment.pk])
    assert deployment.template_version.number == 1


def test_rolling_back_with_nothing_to_roll_back_says_why(alice_browser, acme_fleet):
    url = reverse("templates:rollback", args=[acme_fleet["template"].pk, 2])
    response = alice_browser.post(url, follow=True)
    assert "nothing to roll back" in response.content.decode()


def test_the_template_type_comes_from_the_form(alice_browser, org):
    data = {"name": "x", "type": "bogus", "config_yaml": "", "change_summary": ""}
    response = alice_browser.post(reverse("templates:create"), data)
    assert "type" in response.context["form"].errors
    assert not TemplateVersion.objects.exists()
