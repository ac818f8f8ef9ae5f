"""The `__any` lookup (core_app/lookups.py): the same rows as `__in`, with the ids as one parameter."""

import pytest
from django.db import connection

from gateways_app.models import Gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateways(org):
    return [Gateway.objects.create(organization=org, name=f"gw-{index}") for index in range(5)]


def test_it_selects_the_same_rows_as_in(gateways):
    wanted = [gateways[0].pk, str(gateways[2].pk), None]  # strings are converted, None matches nothing
    assert set(Gateway.objects.filter(pk__any=wanted)) == set(Gateway.objects.filter(pk__in=wanted))
    assert set(Gateway.objects.filter(pk__any=wanted)) == {gateways[0], gateways[2]}


def test_an_empty_list_selects_nothing_without_a_query(gateways, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(Gateway.objects.filter(pk__any=[])) == []


def test_the_ids_are_one_array_parameter_on_postgresql_and_an_in_list_elsewhere(gateways):
    def compiled(rows):
        return Gateway.objects.filter(pk__any=[row.pk for row in rows]).query.get_compiler("default").as_sql()

    (one_sql, _), (five_sql, five_params) = compiled(gateways[:1]), compiled(gateways)
    if connection.vendor == "postgresql":
        # The same SQL text however many ids: nothing to build per id.
        assert one_sql == five_sql and "= ANY(%s)" in five_sql
        assert five_params[-1] == [row.pk for row in gateways]
    else:
        assert " IN (" in five_sql and len(five_params) >= 5
