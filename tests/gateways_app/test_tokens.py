import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from gateways_app import services
from gateways_app.tokens import TokenError, verify_opamp_token, verify_registration_token


def claims_of(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def resign(raw, key=None, algorithm="HS256", drop=(), **changes):
    """The same claims (minus `drop`, plus `changes`), signed again."""
    claims = {k: v for k, v in claims_of(raw).items() if k not in drop}
    claims.update(changes)
    return jwt.encode(claims, key or settings.JWT_SIGNING_KEY, algorithm=algorithm)


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def opamp(gateway):
    return services.issue_opamp_token(gateway)


def refused(raw, verify=verify_registration_token, **kwargs):
    with pytest.raises(TokenError) as error:
        verify(raw, **kwargs)
    return str(error.value)


def test_a_registration_token_verifies_to_its_row(registration):
    row, raw = registration
    assert verify_registration_token(raw) == row


def test_the_token_carries_exactly_the_documented_claims(registration, org):
    row, raw = registration
    claims = claims_of(raw)
    assert set(claims) == {"iss", "aud", "sub", "org", "jti", "iat", "exp"}
    assert claims["aud"] == "flowgate:registration"
    assert (claims["sub"], claims["org"], claims["jti"]) == (str(row.pk), str(org.pk), row.jti)
    assert claims["exp"] == int(row.expires_at.timestamp())


def test_it_rejects_alg_none(registration):
    _, raw = registration
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_of(raw))}."
    assert refused(unsigned) == "unsupported token algorithm"


def test_it_rejects_other_algorithms_even_with_the_right_key(registration):
    _, raw = registration
    assert refused(resign(raw, algorithm="HS512")) == "unsupported token algorithm"


def test_it_rejects_a_forged_signature(registration):
    _, raw = registration
    assert refused(resign(raw, key="someone-else's-key-that-is-long-enough-0123")) == "invalid signature"


def test_it_rejects_a_tampered_payload(registration, other_org):
    _, raw = registration
    header, _, signature = raw.split(".")
    payload = b64({**claims_of(raw), "org": str(other_org.pk)})
    assert refused(f"{header}.{payload}.{signature}") == "invalid signature"


def test_it_rejects_an_opamp_token_where_a_registration_token_is_expected(opamp):
    _, raw = opamp
    assert refused(raw) == "wrong token type"


def test_it_rejects_a_registration_token_where_an_opamp_token_is_expected(registration):
    _, raw = registration
    assert refused(raw, verify_opamp_token) == "wrong token type"


def test_it_rejects_another_issuer(registration):
    _, raw = registration
    assert refused(resign(raw, iss="someone-else")) == "wrong token issuer"


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "org", "jti", "iat", "exp"])
def test_it_rejects_a_token_missing_a_claim(registration, claim):
    _, raw = registration
    assert refused(resign(raw, drop=[claim])).startswith("malformed token")


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "e30.e30.", "Bearer x"])
def test_it_rejects_garbage(garbage):
    assert refused(garbage) in ("missing token", "malformed token", "unsupported token algorithm")


def test_it_rejects_an_expired_token(org, alice):
    _, raw = services.create_registration_token(org, name="short", created_by=alice, ttl=60)
    assert refused(raw, now=timezone.now() + timedelta(seconds=61)) == "token expired"


def test_it_rejects_a_revoked_token(registration, alice):
    row, raw = registration
    services.revoke_registration_token(row, alice)
    assert refused(raw) == "token revoked"


def test_it_rejects_a_used_up_token(registration):
    row, raw = registration
    row.uses = 1
    row.save()
    assert refused(raw) == "token used up"


def test_it_rejects_a_token_whose_row_was_deleted(registration):
    row, raw = registration
    row.delete()
    assert refused(raw) == "unknown token"


def test_it_rejects_a_token_whose_row_expires_earlier_than_the_jwt(registration):
    # The database row is the authority: shortening it must shorten the token.
    row, raw = registration
    row.expires_at = timezone.now() - timedelta(seconds=1)
    row.save()
    assert refused(raw) == "token expired"


def test_it_rejects_a_validly_signed_token_pointing_at_another_row(registration, other_org):
    _, raw = registration
    assert refused(resign(raw, org=str(other_org.pk))) == "token does not match its record"


def test_an_opamp_token_verifies_with_its_gateway_and_org_in_one_query(opamp, gateway, django_assert_num_queries):
    _, raw = opamp
    with django_assert_num_queries(1):
        row = verify_opamp_token(raw)
        assert row.gateway == gateway
        assert row.gateway.organization.slug == "acme"


def test_a_revoked_opamp_token_is_refused(opamp, gateway, alice):
    _, raw = opamp
    services.revoke_opamp_tokens(gateway, alice)
    assert refused(raw, verify_opamp_token) == "token revoked"


def test_an_opamp_token_expires_with_the_org_lifetime(opamp, gateway):
    row, raw = opamp
    assert row.expires_at - row.issued_at == timedelta(days=365)
    assert refused(raw, verify_opamp_token, now=row.expires_at) == "token expired"


def test_error_messages_never_contain_the_token(registration):
    _, raw = registration
    message = refused(resign(raw, key="x" * 40))
    assert claims_of(raw)["jti"] not in message and raw not in message


def test_the_signing_key_is_its_own_setting(registration, settings):
    _, raw = registration
    settings.JWT_SIGNING_KEY = "rotated-" + "k" * 40
    assert refused(raw) == "invalid signature"
