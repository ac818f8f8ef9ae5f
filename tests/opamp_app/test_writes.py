"""Group commit of status writes (opamp_app.writes): many reports, few statements, nothing lost."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateways_app.models import Gateway
from opamp_app import services
from opamp_app.writes import ReportNotStored, StatusWrites

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gateways(org):
    return [Gateway.objects.create(organization=org, name=f"gw-{index}") for index in range(50)]


def test_reports_arriving_together_are_written_together(gateways, django_assert_max_num_queries):
    writes = StatusWrites()

    async def report_applied():
        # 50 connections each waiting for their own report to be saved, at the same moment.
        await asyncio.gather(
            *(writes.save(row.pk, {"remote_config_status": "applied", "remote_config_hash": "ab"}) for row in gateways)
        )

    async_to_sync(report_applied)()
    assert Gateway.objects.filter(remote_config_status="applied", remote_config_hash="ab").count() == 50
    assert (writes.batches, writes.rows) == (1, 50)


def test_reports_with_different_fields_each_keep_their_own_values(gateways):
    writes = StatusWrites()
    first, second = gateways[:2]

    async def report():
        await asyncio.gather(
            writes.save(first.pk, {"status": "degraded", "health": {"healthy": False}}),
            writes.save(second.pk, {"effective_config": "a: 1\n", "effective_config_hash": "cd"}),
        )

    async_to_sync(report)()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.health, first.effective_config) == ("degraded", {"healthy": False}, "")
    assert (second.status, second.effective_config, second.effective_config_hash) == ("offline", "a: 1\n", "cd")


def test_a_refused_row_fails_only_its_own_report(gateways):
    writes = StatusWrites()
    good, bad, holder = gateways[:3]
    Gateway.objects.filter(pk=holder.pk).update(instance_uid=uuid.UUID(int=7))

    async def report():
        return await asyncio.gather(
            writes.save(good.pk, {"remote_config_error": "fine"}),
            # A value the database refuses (on PostgreSQL a NUL character in text does too): the
            # batch is written again row by row, and only this report fails.
            writes.save(bad.pk, {"instance_uid": uuid.UUID(int=7)}),
            return_exceptions=True,
        )

    outcome = async_to_sync(report)()
    assert outcome[0] is None
    # Refused values, not an outage: the transports answer BAD_REQUEST, not "retry later".
    assert isinstance(outcome[1], ReportNotStored)
    assert str(outcome[1]).startswith("the report could not be stored: ")
    assert "\n" not in str(outcome[1])  # the database's first line only, not the statement and its values
    assert Gateway.objects.get(pk=good.pk).remote_config_error == "fine"
    assert Gateway.objects.get(pk=bad.pk).instance_uid is None


def test_save_many_writes_every_row_in_one_statement_per_set_of_fields(gateways):
    pending = {row.pk: {"status": "online", "remote_config_status": "applying"} for row in gateways}
    with CaptureQueriesContext(connection) as queries:
        assert services.save_many(pending) == {}
    # Transaction statements aside: one UPDATE for 50 rows.
    updates = [query for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert Gateway.objects.filter(status="online", remote_config_status="applying").count() == 50


def test_other_databases_get_one_update_per_gateway_with_the_same_result(gateways, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the embedded default's path, on this database
    pending = {
        row.pk: {"remote_config_status": "failed", "remote_config_error": f"e{index}"}
        for index, row in enumerate(gateways)
    }
    assert services.save_many(pending) == {}
    assert sorted(Gateway.objects.values_list("remote_config_error", flat=True)) == sorted(f"e{i}" for i in range(50))
