"""flowgate_site.body_limits: the table of request body limits and how a path finds its limit."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from flowgate_site.body_limits import BodyLimits


def test_the_longest_matching_prefix_wins():
    limits = BodyLimits.parse(["/api/=1000", "/api/v1/gateways/register=10"], default=5)
    assert limits.limit_for(b"/api/v1/gateways/register/") == 10
    assert limits.limit_for(b"/api/v1/organizations/") == 1000
    assert limits.limit_for(b"/login/") == 5


def test_the_query_string_is_not_part_of_the_path():
    limits = BodyLimits.parse(["/v1/opamp=10"], default=5)
    assert limits.limit_for(b"/v1/opamp?token=abc") == 10
    assert limits.limit_for(b"/other?/v1/opamp") == 5


def test_the_defaults_cover_the_unauthenticated_entry_points():
    limits = BodyLimits.from_settings()
    assert limits.limit_for(b"/v1/opamp") == 4 * 1024 * 1024  # FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
    assert limits.limit_for(b"/api/v1/opamp/v1/opamp") == 4 * 1024 * 1024
    for path in (b"/login/", b"/admin/login/?next=/admin/", b"/api/v1/gateways/register"):
        assert limits.limit_for(path) == 64 * 1024
    assert limits.limit_for(b"/templates/new/") == 4 * 1024 * 1024


@pytest.mark.process
def test_the_opamp_limits_follow_the_opamp_message_limit():
    # settings.py builds the default table from FLOWGATE_OPAMP_MAX_MESSAGE_BYTES: raising one raises the other.
    probe = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.FLOWGATE_REQUEST_BODY_LIMITS[0])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "flowgate_site.settings",
        "FLOWGATE_OPAMP_MAX_MESSAGE_BYTES": "8388608",
    }
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "/v1/opamp=8388608"


def test_an_operator_table_replaces_the_defaults():
    with override_settings(FLOWGATE_REQUEST_BODY_LIMITS=["/v1/opamp=100"], FLOWGATE_REQUEST_BODY_DEFAULT_BYTES=50):
        limits = BodyLimits.from_settings()
    assert (limits.limit_for(b"/v1/opamp"), limits.limit_for(b"/login/")) == (100, 50)


@pytest.mark.parametrize("item", ["login=10", "/login/", "/login/=0", "/login/=ten", "=10"])
def test_a_bad_item_is_named_in_the_error(item):
    with pytest.raises(ImproperlyConfigured, match="FLOWGATE_REQUEST_BODY_LIMITS"):
        BodyLimits.parse([item], default=5)


def test_the_default_must_be_a_positive_number():
    with pytest.raises(ImproperlyConfigured, match="FLOWGATE_REQUEST_BODY_DEFAULT_BYTES"):
        BodyLimits.parse([], default=0)
