import pytest

from core_app.roles import Role
from gateways_app.models import Tag

URL = "/api/v1/agent-tags/"


@pytest.fixture
def env_prod(org):
    return Tag.objects.create(organization=org, key="env", value="prod")


def test_it_creates_a_tag(bob_client, org):
    r = bob_client.post(URL, {"key": "env", "value": "prod"})
    assert r.status_code == 201, r.json()
    assert str(Tag.objects.for_org(org).get()) == "env=prod"


def test_it_refuses_a_duplicate_tag(api_client, env_prod):
    r = api_client.post(URL, {"key": "env", "value": "prod"})
    assert r.status_code == 400
    assert r.json() == {"key": ["The tag env=prod already exists in the organization."]}


def test_the_same_tag_may_exist_in_two_orgs(charlie_client, env_prod):
    assert charlie_client.post(URL, {"key": "env", "value": "prod"}).status_code == 201


def test_it_refuses_an_invalid_key(api_client, org):
    r = api_client.post(URL, {"key": "has space", "value": "x"})
    assert r.status_code == 400 and "key" in r.json()


def test_it_edits_and_deletes_a_tag(api_client, env_prod):
    assert api_client.patch(f"{URL}{env_prod.pk}/", {"value": "staging"}).status_code == 200
    env_prod.refresh_from_db()
    assert env_prod.value == "staging"
    assert api_client.delete(f"{URL}{env_prod.pk}/").status_code == 204


def test_renaming_onto_an_existing_tag_is_refused(api_client, env_prod, org):
    other = Tag.objects.create(organization=org, key="env", value="dev")
    r = api_client.patch(f"{URL}{other.pk}/", {"value": "prod"})
    assert r.status_code == 400 and "already exists" in r.json()["key"][0]


def test_it_filters_by_key(api_client, env_prod, org):
    Tag.objects.create(organization=org, key="region", value="eu")
    rows = api_client.get(f"{URL}?key=region").json()["results"]
    assert [(row["key"], row["value"]) for row in rows] == [("region", "eu")]


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
def test_viewers_cannot_write_tags(bob_client, env_prod, bob_role):
    assert bob_client.get(URL).status_code == 200
    assert bob_client.post(URL, {"key": "a", "value": "b"}).status_code == 403
    assert bob_client.delete(f"{URL}{env_prod.pk}/").status_code == 403


def test_it_hides_other_orgs_tags(charlie_client, env_prod):
    assert charlie_client.get(URL).json()["results"] == []
    assert charlie_client.get(f"{URL}{env_prod.pk}/").status_code == 404
