"""The admin's "add deployment" runs the same check against the targets (issue 13, point 1)."""

import pytest

from core_app.models import AuditLog
from core_app.roles import Role
from core_app.services import set_membership
from deployments_app.models import Deployment
from tests.conftest import make_user
from tests.deployments_app.components import CONFIG, FULL, NO_OTLP_OUT
from tests.deployments_app.conftest import make_gateway, make_version
from tests.deployments_app.test_admin import ADD_URL, admin_client, form_data


@pytest.fixture
def version(org):
    return make_version(org, name="edge", config_yaml=CONFIG)


@pytest.fixture
def gateways(org):
    return [
        make_gateway(org, "edge-ok", available_components=FULL),
        make_gateway(org, "edge-small", available_components=NO_OTLP_OUT),
    ]


def staff(org, role):
    user = make_user(f"staff-{role}", is_staff=True)
    set_membership(org, user, role)
    return user


def test_it_refuses_naming_the_gateway_and_its_missing_components(alice, org, version, gateways):
    response = admin_client(alice).post(ADD_URL, form_data(org, version, gateways=gateways))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert list(errors) == [
        "edge v1 cannot run on 1 of the 2 target gateways: it lacks components the config uses.",
        "edge-small lacks exporter debug, exporter otlp.",
    ]
    assert not Deployment.objects.exists()


def test_an_admin_may_force_it_audited(org, version, gateways):
    admin = staff(org, Role.ADMIN)
    response = admin_client(admin).post(ADD_URL, form_data(org, version, gateways=gateways, force="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    deployment = Deployment.objects.get()
    assert (deployment.status, deployment.forced) == ("validating", True)
    assert AuditLog.objects.get(action="deployment.forced").actor_user == admin


def test_an_editor_may_not_force(org, version, gateways):
    editor = staff(org, Role.EDITOR)
    response = admin_client(editor).post(ADD_URL, form_data(org, version, gateways=gateways, force="on"))
    assert response.status_code == 200
    assert "Only an admin or owner" in str(response.context["adminform"].form.errors["force"])
    assert not Deployment.objects.exists()


def test_an_invalid_version_is_not_a_choice(alice, org, version):
    from templates_app.models import TemplateVersion, ValidationState

    broken = TemplateVersion.objects.create(
        template=version.template, number=2, config_yaml=CONFIG, validation_state=ValidationState.INVALID
    )
    form = admin_client(alice).get(ADD_URL).context["adminform"].form
    choices = set(form.fields["template_version"].queryset)
    assert version in choices
    assert broken not in choices
