"""The audit log's Changes column (issue 13, point 8): fields with their values in words, escaped."""

import pytest
from django.urls import reverse

from core_app import audit
from core_app.models import OrgSettings

pytestmark = pytest.mark.django_db


def changes_column(client):
    content = client.get(reverse("core:audit-log")).content.decode()
    return [cell.split("</td>")[0] for cell in content.split('<td class="changes">')[1:]]


def test_a_settings_change_reads_field_from_to(alice, alice_browser, org):
    changes = {
        "default_strategy": {"from": "rolling", "to": "canary"},
        "default_auto_rollback": {"from": True, "to": False},
        "extra_allowed_components": {"from": [], "to": ["kafka", "solace"]},
    }
    audit.record(org, "settings.updated", OrgSettings.objects.get(organization=org), user=alice, changes=changes)
    [cell] = changes_column(alice_browser)
    assert "{" not in cell and "&#x27;" not in cell and "'" not in cell
    assert '<span class="muted">default_strategy</span> rolling → canary</li>' in cell
    assert '<span class="muted">default_auto_rollback</span> yes → no</li>' in cell
    assert '<span class="muted">extra_allowed_components</span> none → kafka, solace</li>' in cell


def test_long_lists_are_shortened_and_other_values_shown_as_they_are(alice, alice_browser, org):
    targets = [f"gw-{index}" for index in range(50)]
    changes = {"targets": targets, "strategy": "rolling", "target_count": 50, "description": ""}
    audit.record(org, "deployment.created", None, user=alice, changes=changes)
    [cell] = changes_column(alice_browser)
    assert "gw-0, gw-1, gw-2, gw-3, gw-4, gw-5, gw-6, gw-7 … and 42 more</li>" in cell
    assert '<span class="muted">target_count</span> 50</li>' in cell
    assert '<span class="muted">description</span> (empty)</li>' in cell


def test_crafted_text_in_changes_is_shown_escaped(alice, alice_browser, org):
    payload = '<img src=x onerror="alert(1)">'
    audit.record(org, "gateway.updated", None, user=alice, changes={payload: {"from": payload, "to": [payload]}})
    [cell] = changes_column(alice_browser)
    assert "<img" not in cell
    assert cell.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 3


def test_an_entry_without_changes_has_an_empty_cell(alice, alice_browser, org):
    audit.record(org, "gateway.tokens_revoked", None, user=alice)
    assert changes_column(alice_browser) == [""]
