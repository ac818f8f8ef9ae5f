from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from core_app.models import Organization


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_createorg_prints_only_the_slug(db):
    assert run("createorg", "initech", "--name", "Initech") == "initech"
    assert Organization.objects.get(slug="initech").name == "Initech"


def test_createorg_refuses_a_duplicate_slug(org):
    with pytest.raises(CommandError, match="already exists"):
        run("createorg", "acme")


def test_createmember_then_createapitoken_gives_working_api_access(org):
    assert run("createmember", "acme", "dana", "--role", "editor", "--password", "pw-123-long-enough") == "dana"
    token = run("createapitoken", "dana")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = client.get("/api/v1/organizations/").json()
    assert [(o["slug"], o["role"]) for o in body["results"]] == [("acme", "editor")]


def test_createmember_refuses_an_unknown_org(db):
    with pytest.raises(CommandError, match="No organization"):
        run("createmember", "nope", "dana")


def test_seeddemo_is_idempotent_and_keeps_the_password(db, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    first = run("seeddemo")
    second = run("seeddemo")
    assert first == second
    assert "user 'admin'" in first
