"""The registration token form (issue 13, point 8): errors in words, and tags created from the form."""

import pytest
from django.test import Client
from django.urls import reverse

from gateways_app.models import RegistrationToken, Tag

pytestmark = pytest.mark.django_db

MAX_USES_ERROR = "A registration token allows at least one use."


def token_data(**extra):
    return {"name": "rack-7", "max_uses": 1, "expires_at": "", **extra}


@pytest.mark.parametrize("max_uses", [0, -1])
def test_max_uses_below_one_is_a_field_error_in_words(alice_browser, org, max_uses):
    response = alice_browser.post(reverse("gateways:token-create"), token_data(max_uses=max_uses))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["max_uses"] == [MAX_USES_ERROR]
    assert not form.non_field_errors()
    content = response.content.decode()
    assert "max_uses_positive" not in content and "Constraint" not in content
    assert not RegistrationToken.objects.exists()


def test_max_uses_zero_in_the_admin_is_a_field_error_in_words(alice, org):
    client = Client()
    client.force_login(alice)
    data = {"organization": org.pk, "name": "rack 9", "max_uses": 0}
    response = client.post("/admin/gateways_app/registrationtoken/add/", data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["max_uses"] == [MAX_USES_ERROR]
    assert "max_uses_positive" not in response.content.decode()


def test_max_uses_zero_through_the_api_is_a_field_error(api_client, org):
    response = api_client.post("/api/v1/registration-tokens/", {"name": "t", "max_uses": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["max_uses"] == ["Ensure this value is greater than or equal to 1."]


def test_new_tags_typed_in_the_token_form_are_created_and_given_to_the_token(alice_browser, acme_fleet):
    existing = acme_fleet["tag"]
    data = token_data(tags=[existing.pk], new_tags="rack=7  site=eu-west-1 env=prod")
    response = alice_browser.post(reverse("gateways:token-create"), data)
    assert response.status_code == 200 and "raw" in response.context
    token = RegistrationToken.objects.get(name="rack-7")
    assert sorted(map(str, token.tags.all())) == ["env=prod", "rack=7", "site=eu-west-1"]
    assert Tag.objects.filter(organization=acme_fleet["org"]).count() == 3  # env=prod was not created twice


def test_a_malformed_new_tag_is_an_error_next_to_the_field_and_nothing_is_created(alice_browser, org):
    response = alice_browser.post(reverse("gateways:token-create"), token_data(new_tags="rack=7 not-a-tag"))
    assert response.status_code == 200
    errors = response.context["form"].errors["new_tags"]
    assert errors == ["Tags are written 'key=value'; got 'not-a-tag'."]
    assert 'id="errors-new_tags"' in response.content.decode()
    assert not RegistrationToken.objects.exists() and not Tag.objects.exists()


def test_the_token_form_offers_a_box_for_new_tags(alice_browser, org):
    content = alice_browser.get(reverse("gateways:token-create")).content.decode()
    assert 'name="new_tags"' in content
    assert "missing tags are created" in content
