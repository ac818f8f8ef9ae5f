"""Which versions a deployment may use (TemplateVersion.is_deployable, the deployable() queryset)
and which one the template calls "current" (issue 13, point 1)."""

import pytest

from templates_app.models import ConfigTemplate, TemplateVersion, ValidationState
from templates_app.services import create_version

from .conftest import PIPELINE_YAML

pytestmark = pytest.mark.django_db


def _version(template, number, state):
    return TemplateVersion.objects.create(
        template=template, number=number, config_yaml=f"# v{number}\n", validation_state=state
    )


@pytest.mark.parametrize(
    ("state", "deployable"),
    [
        (ValidationState.VALID, True),
        (ValidationState.WARNINGS, True),
        (ValidationState.UNVALIDATED, True),  # rows from before validation existed
        (ValidationState.CHECKING, False),
        (ValidationState.INVALID, False),
    ],
)
def test_only_checked_versions_without_errors_are_deployable(template, state, deployable):
    version = _version(template, 2, state)
    assert version.is_deployable() is deployable
    assert TemplateVersion.objects.deployable().filter(pk=version.pk).exists() is deployable
    assert (version.refusal() == "") is deployable


def test_the_refusal_says_why(template):
    assert "still being checked" in _version(template, 2, ValidationState.CHECKING).refusal()
    assert "Fix it in a new version" in _version(template, 3, ValidationState.INVALID).refusal()


def test_current_is_the_latest_deployable_version(template, alice):
    create_version(template, config_yaml="a: 1\n", change_summary="broken", author=alice)
    _version(template, 3, ValidationState.CHECKING)
    assert template.latest_version().number == 3
    assert template.current_version().number == 1
    stats = ConfigTemplate.objects.with_version_stats().get(pk=template.pk)
    assert (stats.current_version_number, stats.latest_version_number, stats.version_count) == (1, 3, 3)
    create_version(template, config_yaml=PIPELINE_YAML + "# v4\n", change_summary="fixed", author=alice)
    assert template.current_version().number == 4
