"""The garbage-collector policy of a server process (opamp_app.heap), with gc's calls recorded."""

import pytest

from opamp_app import heap


@pytest.fixture
def calls(monkeypatch):
    made = []
    monkeypatch.setattr(heap.gc, "freeze", lambda: made.append("freeze"))
    monkeypatch.setattr(heap.gc, "unfreeze", lambda: made.append("unfreeze"))
    monkeypatch.setattr(heap.gc, "collect", lambda: made.append("collect") or 0)
    return made


def test_it_freezes_at_the_first_connection_and_after_each_wave(calls):
    keeper = heap.HeapKeeper()
    assert keeper.tick(1) == "froze"
    assert keeper.tick(1 + heap.FREEZE_AFTER - 1) == ""
    assert keeper.tick(1 + heap.FREEZE_AFTER) == "froze"
    assert calls == ["freeze", "freeze"]


def test_it_collects_in_full_only_after_many_closed_connections_and_rarely(calls, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(heap.time, "monotonic", lambda: clock[0])
    keeper = heap.HeapKeeper()
    keeper.tick(500)
    for _ in range(heap.FREEZE_AFTER):
        keeper.connection_closed()
    assert keeper.tick(400) == ""  # not yet: the last full collection is too recent
    clock[0] += heap.FULL_COLLECTION_SECONDS
    assert keeper.tick(400) == "collected"
    assert calls == ["freeze", "unfreeze", "collect", "freeze"]
    # Fewer connections now: a wave is counted from 400, not from 500.
    assert keeper.tick(400 + heap.FREEZE_AFTER) == "froze"
