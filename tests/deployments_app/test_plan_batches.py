"""plan_batches is pure: unsaved Deployment instances, no database."""

import pytest

from core_app.models import Strategy
from deployments_app.models import Deployment
from deployments_app.services import plan_batches


def plan(n, strategy, **params):
    return plan_batches(n, Deployment(strategy=strategy, **params))


def test_all_at_once_puts_every_target_in_batch_zero():
    assert plan(5, Strategy.ALL_AT_ONCE) == [0, 0, 0, 0, 0]


def test_no_targets_means_no_batches():
    assert plan(0, Strategy.ROLLING, batch_size=2) == []
    assert plan(0, Strategy.CANARY, canary_count=1, batch_percent=50) == []


def test_rolling_by_size_fills_batches_in_order():
    assert plan(5, Strategy.ROLLING, batch_size=2) == [0, 0, 1, 1, 2]


def test_rolling_by_percent_rounds_the_batch_size_up():
    # 30% of 7 is 2.1: batches of 3.
    assert plan(7, Strategy.ROLLING, batch_percent=30) == [0, 0, 0, 1, 1, 1, 2]


def test_rolling_by_exact_percent_does_not_round_up():
    assert plan(8, Strategy.ROLLING, batch_percent=25) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_tiny_percent_still_moves_one_target_per_batch():
    assert plan(3, Strategy.ROLLING, batch_percent=1) == [0, 1, 2]


def test_a_single_target_is_one_batch_whatever_the_strategy():
    assert plan(1, Strategy.ROLLING, batch_percent=10) == [0]
    assert plan(1, Strategy.CANARY, canary_percent=10, batch_percent=10) == [0]


def test_canary_by_count_then_rolling_batches():
    assert plan(6, Strategy.CANARY, canary_count=1, batch_size=2) == [0, 1, 1, 2, 2, 3]


def test_canary_by_percent_takes_at_least_one_target():
    # 10% of 4 is 0.4: still one canary; the rest go 50% of all targets (2) at a time.
    assert plan(4, Strategy.CANARY, canary_percent=10, batch_percent=50) == [0, 1, 1, 2]


def test_canary_percent_rounds_up():
    # 15% of 10 is 1.5: two canaries.
    assert plan(10, Strategy.CANARY, canary_percent=15, batch_size=4) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_a_canary_larger_than_the_fleet_is_the_whole_fleet():
    assert plan(3, Strategy.CANARY, canary_count=5, batch_size=1) == [0, 0, 0]


def test_rolling_without_a_batch_rule_is_a_programming_error():
    with pytest.raises(ValueError):
        plan(3, Strategy.ROLLING)
