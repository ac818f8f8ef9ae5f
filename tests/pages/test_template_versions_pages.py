"""What the template pages call current and deployable, and the state of a version being checked
(issue 13, point 1): invalid versions, and versions whose deep check has not finished, get no
Deploy / Roll back buttons and never become current; the list says which versions the fleet runs."""

import pytest
from django.urls import reverse

from gateways_app.models import Gateway, RemoteConfigStatus
from templates_app.models import TemplateVersion, ValidationState
from templates_app.services import check_version, create_version

from .conftest import CONFIG_V1

pytestmark = pytest.mark.django_db
INVALID = CONFIG_V1.replace("exporters: [debug]", "exporters: [nowhere]")
DEPLOY = "Deploy this version"
ROLL_BACK = "Roll back to this version"


def page(client, name, *args, **headers):
    response = client.get(reverse(name, args=args), headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def add_invalid_v3(fleet, user):
    version = create_version(fleet["template"], config_yaml=INVALID, change_summary="broken", author=user)
    assert version.validation_state == ValidationState.INVALID
    return version


def add_checking_v3(fleet, user, settings):
    settings.FLOWGATE_COLLECTOR_BINARY = "/nonexistent/otelcol"  # saved "checking"
    version = create_version(fleet["template"], config_yaml=CONFIG_V1 + "# v3\n", change_summary="", author=user)
    assert version.validation_state == ValidationState.CHECKING
    return version


def settle(version, settings):
    """The task's check, with no collector binary left to run: it ends with an "unavailable" warning."""
    settings.FLOWGATE_COLLECTOR_BINARY = ""
    check_version(version.pk)


def row_of(content, number):
    start = content.index(f'<tr data-version="{number}">')
    return content[start : content.index("</tr>", start)]


class TestAnInvalidVersion:
    def test_it_has_no_deploy_or_roll_back_button_on_its_page(self, alice_browser, acme_fleet, alice):
        add_invalid_v3(acme_fleet, alice)
        content = page(alice_browser, "templates:version", acme_fleet["template"].pk, 3)
        assert DEPLOY not in content and ROLL_BACK not in content
        assert "Invalid: cannot be deployed" in content

    def test_it_is_not_current_in_the_history_and_has_no_buttons(self, alice_browser, acme_fleet, alice):
        add_invalid_v3(acme_fleet, alice)
        content = page(alice_browser, "templates:detail", acme_fleet["template"].pk)
        assert DEPLOY not in row_of(content, 3) and "current" not in row_of(content, 3)
        assert 'badge active">current' in row_of(content, 2)
        # v2 is current: deployable, no roll back to itself; v1 can be rolled back to.
        assert DEPLOY in row_of(content, 2) and ROLL_BACK not in row_of(content, 2)
        assert ROLL_BACK in row_of(content, 1)

    def test_the_list_shows_the_latest_valid_version_as_current(self, alice_browser, acme_fleet, alice):
        add_invalid_v3(acme_fleet, alice)
        template = acme_fleet["template"]
        content = page(alice_browser, "templates:list")
        current = reverse("templates:version", args=[template.pk, 2])
        assert f'<a href="{current}">v2</a> <span class="muted small">of 3</span>' in content
        assert (
            'newest: <a href="{}">v3</a> <span class="badge invalid">'.format(
                reverse("templates:version", args=[template.pk, 3])
            )
            in content
        )

    def test_the_api_agrees(self, alice, acme_fleet):
        from rest_framework.test import APIClient

        add_invalid_v3(acme_fleet, alice)
        client = APIClient()
        client.force_authenticate(alice)
        body = client.get(f"/api/v1/templates/{acme_fleet['template'].pk}/").json()
        assert (body["current_version"], body["latest_version"]) == (2, 3)


class TestAVersionBeingChecked:
    def test_its_page_polls_until_the_check_settles(self, alice_browser, acme_fleet, alice, settings):
        version = add_checking_v3(acme_fleet, alice, settings)
        pk = acme_fleet["template"].pk
        content = page(alice_browser, "templates:version", pk, 3)
        assert 'hx-trigger="every 1s"' in content and "Being checked" in content
        assert DEPLOY not in content and "cannot be deployed until the collector" in content
        partial = page(alice_browser, "templates:version", pk, 3, HX_Request="true")
        assert partial.lstrip().startswith('<div id="version-live"') and "<html" not in partial
        settle(version, settings)
        settled = page(alice_browser, "templates:version", pk, 3, HX_Request="true")
        assert "hx-trigger" not in settled and DEPLOY in settled  # warnings: the collector was not found
        assert 'class="badge warnings"' in settled

    def test_the_history_polls_and_it_is_not_current(self, alice_browser, acme_fleet, alice, settings):
        version = add_checking_v3(acme_fleet, alice, settings)
        pk = acme_fleet["template"].pk
        content = page(alice_browser, "templates:detail", pk)
        assert 'id="versions" hx-get=' in content
        assert DEPLOY not in row_of(content, 3) and "check has passed" in row_of(content, 3)
        assert "current" in row_of(content, 2)
        settle(version, settings)
        partial = page(alice_browser, "templates:detail", pk, HX_Request="true")
        assert "hx-get" not in partial and "current" in row_of(partial, 3)


def test_the_list_says_which_versions_the_fleet_runs(alice_browser, acme_fleet):
    template = acme_fleet["template"]
    v1, v2 = TemplateVersion.objects.filter(template=template).order_by("number")
    gateways = acme_fleet["gateways"]
    applied = {"remote_config_status": RemoteConfigStatus.APPLIED}
    Gateway.objects.filter(pk__in=[gateways[0].pk, gateways[1].pk]).update(remote_config_hash=v2.sha256, **applied)
    Gateway.objects.filter(pk=gateways[2].pk).update(remote_config_hash=v1.sha256, **applied)
    content = page(alice_browser, "templates:list")
    cell = content[content.index('<td class="fleet-runs">') :]
    cell = cell[: cell.index("</td>")]
    link = reverse("templates:version", args=[template.pk, 2])
    assert f'<a href="{link}">v2</a> on 2, ' in cell
    assert f'<a href="{reverse("templates:version", args=[template.pk, 1])}">v1</a> on 1' in cell
    # A gateway whose config failed does not run it.
    Gateway.objects.filter(pk=gateways[2].pk).update(remote_config_status=RemoteConfigStatus.FAILED)
    content = page(alice_browser, "templates:list")
    assert "v1</a> on 1" not in content
