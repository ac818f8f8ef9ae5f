from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gateways_app.models import RegistrationToken
from gateways_app.tokens import verify_registration_token


def run(*args):
    out = StringIO()
    call_command("createregistrationtoken", *args, stdout=out)
    return out.getvalue()


def test_it_prints_only_the_token(org):
    output = run("acme")
    row = verify_registration_token(output.strip())
    assert output == f"{output.strip()}\n"
    assert row.organization == org and row.max_uses == 1


def test_it_takes_ttl_uses_and_name(org):
    row = verify_registration_token(run("acme", "--ttl", "600", "--uses", "3", "--name", "ansible").strip())
    assert (row.name, row.max_uses) == ("ansible", 3)
    assert (row.expires_at - row.created_at).total_seconds() == pytest.approx(600, abs=2)


def test_it_refuses_an_unknown_org(db):
    with pytest.raises(CommandError, match="No organization"):
        run("nope")


def test_it_refuses_zero_uses(org):
    with pytest.raises(CommandError, match="--uses"):
        run("acme", "--uses", "0")
    assert not RegistrationToken.objects.exists()
