"""Before vs after (telemetry_app.comparison): exact figures from constructed per-minute throughput rows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateways_app.models import Gateway
from telemetry_app.comparison import Placement, chart, compare
from tests.telemetry_app.throughput_rows import rows

APPLIED = datetime(2026, 12, 5, 10, 0, 20, tzinfo=UTC)
SENT = APPLIED - timedelta(seconds=15)
BEFORE = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # the hour before the minute it was sent in
AFTER = datetime(2026, 12, 5, 10, 2, tzinfo=UTC)  # from the minute applied + 2 min settle
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
NO_PRICES = {}


def placed(gateway, **changes):
    return Placement(
        gateway.pk, gateway.name, changes.get("sent_at", SENT), changes.get("applied_at", APPLIED), changes.get("until")
    )


def only(result, signal="logs"):
    (row,) = [row for row in result.signals if row.signal == signal]
    return row


@pytest.fixture
def gateways(org):
    return [Gateway.objects.create(organization=org, name=f"gw-{index}", hostname=f"gw-{index}") for index in range(3)]


def test_half_the_items_out_for_the_same_items_in_is_a_50_percent_reduction(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=1000, sent=500)
    result = compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES)
    row = only(result)
    assert (row.gateways, row.before_in, row.before_out, row.after_in, row.after_out) == (1, 1000, 1000, 1000, 500)
    assert (row.reduction_percent, row.out_change_percent, row.saved_per_hour) == (50.0, -50.0, 500)
    assert row.sentence("v3") == "v3 cut log records by 50 % on 1 gateway, compared over 1 h before and after."
    assert (result.placed, result.compared, result.excluded, result.open_windows) == (1, 1, [], 0)


def test_more_traffic_in_is_not_mistaken_for_more_or_less_out(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=2000, sent=1000)  # twice the traffic, the same out: the version halved it
    row = only(compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES))
    assert (row.out_change_percent, row.ratio_before, row.ratio_after, row.reduction_percent) == (0.0, 1.0, 0.5, 50.0)
    assert row.saved_per_hour == 1000


def test_gateways_without_items_in_both_windows_are_excluded_and_named(org, gateways):
    counted, no_after, no_data = gateways
    rows(counted, BEFORE, accepted=600, sent=600)
    rows(counted, AFTER, accepted=600, sent=150)
    rows(no_after, BEFORE, accepted=5000, sent=5000)  # reported before, nothing after (it stopped reporting)
    result = compare(org, [placed(gateway) for gateway in gateways], now=NOW, price_of=NO_PRICES)
    row = only(result)
    assert (row.gateways, row.before_out, row.after_out, row.reduction_percent) == (1, 600, 150, 75.0)
    assert (result.placed, result.compared, result.excluded) == (3, 1, ["gw-1", "gw-2"])


def test_gateways_add_up_per_signal(org, gateways):
    first, second, _ = gateways
    rows(first, BEFORE, accepted=1000, sent=1000)
    rows(first, AFTER, accepted=1000, sent=500)
    rows(second, BEFORE, accepted=3000, sent=3000)
    rows(second, AFTER, accepted=3000, sent=3000)
    rows(second, BEFORE, accepted=400, sent=400, signal="traces")
    rows(second, AFTER, accepted=400, sent=100, signal="traces")
    result = compare(org, [placed(first), placed(second)], now=NOW, price_of=NO_PRICES)
    logs, traces = only(result, "logs"), only(result, "traces")
    assert (logs.gateways, logs.before_out, logs.after_out, logs.reduction_percent) == (2, 4000, 3500, 12.5)
    assert (traces.gateways, traces.reduction_percent) == (1, 75.0)
    assert traces.sentence("v2") == "v2 cut spans by 75 % on 1 gateway, compared over 1 h before and after."


def test_rates_are_per_hour_of_data_a_gateway_reported(org, gateway):
    rows(gateway, BEFORE + timedelta(minutes=30), accepted=500, sent=500, minutes=30)  # it started reporting at :30
    rows(gateway, AFTER, accepted=1000, sent=250)
    row = only(compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES))
    assert (row.before_in, row.before_out, row.after_out, row.reduction_percent) == (1000, 1000, 250, 75.0)


def test_the_minutes_of_the_change_and_outside_the_windows_do_not_count(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=1000, sent=500)
    # The minute it was sent in, the settle minutes, the minute before the hour before, the minute after the hour after.
    for start in (
        BEFORE - timedelta(minutes=1),
        datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
        AFTER - timedelta(minutes=1),
        AFTER + timedelta(hours=1),
    ):
        rows(gateway, start, accepted=10**6, sent=10**6, minutes=1)
    row = only(compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES))
    assert (row.before_in, row.before_out, row.after_in, row.after_out) == (1000, 1000, 1000, 500)


def test_the_hour_after_ends_at_a_rollback_and_at_now(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=1000, sent=250, minutes=30)
    rows(gateway, AFTER + timedelta(minutes=30), accepted=1000, sent=1000, minutes=30)  # the previous config again
    rolled_back = compare(org, [placed(gateway, until=AFTER + timedelta(minutes=30))], now=NOW, price_of=NO_PRICES)
    assert (only(rolled_back).after_in, only(rolled_back).after_out) == (2000, 500)  # 30 minutes, per hour
    assert rolled_back.open_windows == 0  # over: ended by the rollback
    so_far = compare(org, [placed(gateway)], now=AFTER + timedelta(minutes=30, seconds=40), price_of=NO_PRICES)
    assert (only(so_far).after_out, only(so_far).reduction_percent, so_far.open_windows) == (500, 75.0, 1)


def test_hour_rows_stand_in_once_the_minutes_are_gone(org, gateway):
    # Only hour rows left: the hour before the hour it was sent in (09:00), the first whole hour after (11:00).
    rows(gateway, BEFORE, accepted=1000, sent=1000, minutes=1, resolution="hour")
    rows(gateway, datetime(2026, 12, 5, 11, 0, tzinfo=UTC), accepted=1000, sent=400, minutes=1, resolution="hour")
    # The hour it was applied in (10:00) mixes both configurations: never counted.
    rows(gateway, datetime(2026, 12, 5, 10, 0, tzinfo=UTC), accepted=10**6, sent=1, minutes=1, resolution="hour")
    row = only(compare(org, [placed(gateway)], now=NOW + timedelta(days=3), price_of=NO_PRICES))
    assert (row.before_in, row.before_out, row.after_in, row.after_out, row.reduction_percent) == (
        1000, 1000, 1000, 400, 60.0,
    )  # fmt: skip


def test_minute_rows_win_over_the_hour_rows_written_with_them(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=1000, sent=500)
    for hour in (BEFORE, AFTER.replace(minute=0), AFTER.replace(minute=0) + timedelta(hours=1)):
        rows(gateway, hour, accepted=10**6, sent=1, minutes=1, resolution="hour")
    assert only(compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES)).reduction_percent == 50.0


def test_nothing_after_yet_compares_nothing(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    result = compare(org, [placed(gateway)], now=APPLIED + timedelta(minutes=1), price_of=NO_PRICES)
    assert (result.signals, result.placed, result.excluded) == ([], 1, ["gw-1"])


def test_another_orgs_rows_are_never_counted(org, other_org, gateway):
    theirs = Gateway.objects.create(organization=other_org, name="theirs", hostname="theirs")
    rows(theirs, BEFORE, accepted=1000, sent=1000)
    rows(theirs, AFTER, accepted=1000, sent=10)
    result = compare(org, [placed(theirs)], now=NOW, price_of=NO_PRICES)
    assert (result.signals, result.excluded) == ([], ["theirs"])
    assert only(compare(other_org, [placed(theirs)], now=NOW, price_of=NO_PRICES)).reduction_percent == 99.0


def test_a_price_turns_the_reduction_into_an_estimated_monthly_saving(org, gateway):
    rows(gateway, BEFORE, accepted=1_000_000, sent=1_000_000)
    rows(gateway, AFTER, accepted=1_000_000, sent=500_000)
    rows(gateway, BEFORE, accepted=1_000_000, sent=1_000_000, signal="metrics")
    rows(gateway, AFTER, accepted=1_000_000, sent=900_000, signal="metrics")
    result = compare(org, [placed(gateway)], now=NOW, price_of={"logs": Decimal("0.5"), "metrics": None})
    assert only(result).monthly_saving == Decimal("182.50")  # 500,000/h × 730 h × 0.5 per million
    assert only(result, "metrics").monthly_saving is None


def test_the_org_settings_prices_are_used(org, gateway):
    org.settings.price_per_million_log_records = Decimal("2")
    org.settings.save()
    rows(gateway, BEFORE, accepted=1_000_000, sent=1_000_000)
    rows(gateway, AFTER, accepted=1_000_000, sent=1_100_000)  # more out: a negative saving, a cost
    row = only(compare(org, [placed(gateway)], now=NOW))
    assert (row.reduction_percent, row.monthly_saving) == (-10.0, Decimal("-146.00"))
    assert row.sentence("v4") == "v4 raised log records by 10 % on 1 gateway, compared over 1 h before and after."


def test_one_query_whatever_the_number_of_gateways(org, django_assert_num_queries):
    fleet = Gateway.objects.bulk_create(
        Gateway(organization=org, name=f"fleet-{index}", hostname=f"fleet-{index}") for index in range(40)
    )
    for index, gateway in enumerate(fleet):
        rows(gateway, BEFORE + timedelta(minutes=index), accepted=100, sent=100)
        rows(gateway, AFTER + timedelta(minutes=index), accepted=100, sent=40)
    placements = [
        placed(gateway, sent_at=SENT + timedelta(minutes=i), applied_at=APPLIED + timedelta(minutes=i))
        for i, gateway in enumerate(fleet)
    ]
    with django_assert_num_queries(1):
        result = compare(org, placements, now=NOW, price_of=NO_PRICES)
    assert (only(result).gateways, only(result).reduction_percent) == (40, 60.0)


def test_the_chart_draws_out_per_hour_before_and_after_per_signal(org, gateway):
    rows(gateway, BEFORE, accepted=1000, sent=1000)
    rows(gateway, AFTER, accepted=1000, sent=500)
    (group,) = chart(compare(org, [placed(gateway)], now=NOW, price_of=NO_PRICES))
    before, after = group.bars
    assert (group.label, group.change, before.label, after.label) == ("log records", "−50 % out ÷ in", "1k/h", "500/h")
    assert before.height == 2 * after.height
