"""The organization's extra allowed components (issue 13, point 8): one type per line, not JSON to type."""

import pytest
from django.test import Client
from django.urls import reverse

from core_app.models import AuditLog, OrgSettings

pytestmark = pytest.mark.django_db


def settings_data(client, url, **changes):
    """What the settings form posts when only `changes` are edited (the other fields as shown)."""
    form = client.get(url).context.get("form") or client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = value
    data.update(changes)
    return data


def saved_components(org):
    return OrgSettings.objects.get(organization=org).extra_allowed_components


def test_the_settings_page_shows_one_component_type_per_line(alice_browser, org):
    OrgSettings.objects.filter(organization=org).update(extra_allowed_components=["kafka", "solace"])
    content = alice_browser.get(reverse("core:settings")).content.decode()
    assert ">\nkafka\nsolace</textarea>" in content
    assert "One component type per line" in content
    assert "[&quot;kafka&quot;" not in content and "JSON" not in content


def test_component_types_typed_one_per_line_are_saved_as_a_list(alice_browser, org):
    url = reverse("core:settings")
    data = settings_data(alice_browser, url, extra_allowed_components="kafka\r\n  solace \r\n\r\nkafka\r\n")
    assert alice_browser.post(url, data).status_code == 302
    assert saved_components(org) == ["kafka", "solace"]
    entry = AuditLog.objects.get(action="settings.updated")
    assert entry.changes == {"extra_allowed_components": {"from": [], "to": ["kafka", "solace"]}}


def test_commas_and_spaces_separate_types_too_and_empty_clears_the_list(alice_browser, org):
    url = reverse("core:settings")
    alice_browser.post(url, settings_data(alice_browser, url, extra_allowed_components="kafka, solace otlp"))
    assert saved_components(org) == ["kafka", "solace", "otlp"]
    alice_browser.post(url, settings_data(alice_browser, url, extra_allowed_components=""))
    assert saved_components(org) == []


@pytest.mark.parametrize(
    "typed,error",
    [
        ("kafka\nKafka!", "'Kafka!': Component types are lower-case words like 'otlp'."),
        ("kafka/2", "'kafka/2' is a component id: give its type, 'kafka' (it allows every kafka/… id)."),
    ],
)
def test_a_bad_component_type_is_named_in_the_error(alice_browser, org, typed, error):
    url = reverse("core:settings")
    response = alice_browser.post(url, settings_data(alice_browser, url, extra_allowed_components=typed))
    assert response.status_code == 200
    assert response.context["form"].errors["extra_allowed_components"] == [error]
    assert saved_components(org) == []


def test_the_admin_takes_the_same_one_per_line_list(alice, org):
    client = Client()
    client.force_login(alice)
    settings_row = OrgSettings.objects.get(organization=org)
    url = f"/admin/flowgate_site/orgsettings/{settings_row.pk}/change/"
    assert "One component type per line" in client.get(url).content.decode()
    response = client.post(url, settings_data(client, url, extra_allowed_components="kafka\nsolace"))
    assert response.status_code == 302
    assert saved_components(org) == ["kafka", "solace"]


def test_the_api_keeps_a_json_list(api_client, org):
    response = api_client.patch("/api/v1/settings/acme/", {"extra_allowed_components": ["kafka"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["extra_allowed_components"] == ["kafka"]
    assert saved_components(org) == ["kafka"]
