from gateways_app.selection import find_tags, resolve_targets
from tests.deployments_app.conftest import make_gateway, make_tag


def names(gateways):
    return [gateway.name for gateway in gateways]


def test_it_selects_gateways_carrying_all_the_tags(org, fleet):
    tags = [make_tag(org, "env=prod"), make_tag(org, "region=eu")]
    assert names(resolve_targets(org, tags=tags)) == ["eu-1", "eu-2"]


def test_a_single_tag_selects_every_gateway_carrying_it(org, fleet):
    assert names(resolve_targets(org, tags=[make_tag(org, "region=eu")])) == ["eu-1", "eu-2", "stg-1"]


def test_it_unites_tag_matches_with_named_gateways_without_duplicates(org, fleet):
    tags = [make_tag(org, "env=prod"), make_tag(org, "region=eu")]
    selected = resolve_targets(org, tags=tags, gateways=[fleet["stg"], fleet["eu1"]])
    assert names(selected) == ["eu-1", "eu-2", "stg-1"]


def test_an_empty_tag_list_selects_only_the_named_gateways(org, fleet):
    assert names(resolve_targets(org, tags=[], gateways=[fleet["us1"]])) == ["us-1"]
    assert names(resolve_targets(org)) == []


def test_a_tag_nobody_carries_selects_nothing(org, fleet):
    tags = [make_tag(org, "env=prod"), make_tag(org, "env=staging")]
    assert names(resolve_targets(org, tags=tags)) == []


def test_it_never_includes_other_orgs_gateways(org, other_org, fleet):
    outsider = make_gateway(other_org, "globex-1", "env=prod")
    # Even when named explicitly or tagged with acme's own tag.
    outsider.tags.add(make_tag(org, "env=prod"))
    selected = resolve_targets(org, tags=[make_tag(org, "env=prod")], gateways=[outsider])
    assert names(selected) == ["eu-1", "eu-2", "us-1"]


def test_it_finds_tags_by_label_within_the_org(org, other_org, fleet):
    make_tag(other_org, "team=red")
    assert [str(tag) for tag in find_tags(org, ["region=eu", "env=prod"])] == ["region=eu", "env=prod"]


def test_it_names_unknown_tags(org, other_org, fleet):
    import pytest
    from django.core.exceptions import ValidationError

    make_tag(other_org, "team=red")
    with pytest.raises(ValidationError) as exc:
        find_tags(org, ["env=prod", "team=red", "env=dev"])
    assert exc.value.message_dict == {"selector_tags": ["Unknown tag: team=red, env=dev."]}
