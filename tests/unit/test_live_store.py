"""service/live.py: counters become rates, moves and resets restart a series, stale ports
are forgotten, the journal filters by visibility."""
from __future__ import annotations

from netqos.service.live import FORGET_AFTER, LiveStore


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def entry(port_id, tx, rx=0, drops=0):
    return {"port_id": port_id, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rx // 100,
            "tx_packets": tx // 100, "drops": drops, "limit": {"in_bps": 8000}}


def test_rates_in_the_vms_view_and_a_host_move_restarts_the_series():
    clock = Clock()
    store = LiveStore(clock)
    store.ingest("h1", 1.0, [entry("p", 0)])
    clock.now += 1
    store.ingest("h1", 2.0, [entry("p", 1000, rx=500, drops=2)])
    [(t, in_bps, out_bps, in_pps, out_pps, drops)] = store.series(["p"])["p"]["samples"]
    assert (in_bps, out_bps, in_pps, out_pps, drops) == (8000, 4000, 10, 5, 2)
    assert store.latest(["p"], newer_than=t) == {}
    store.ingest("h2", 3.0, [entry("p", 5000)])   # moved: a new window on the new host
    assert store.port("p")["host"] == "h2" and store.port("p")["samples"] == []


def test_ports_not_reported_for_long_are_forgotten():
    clock = Clock()
    store = LiveStore(clock)
    store.ingest("h", 1.0, [entry("old", 0), entry("kept", 0)])
    clock.now += FORGET_AFTER + 61
    store.ingest("h", 2.0, [entry("kept", 10)])
    assert store.port("old") is None and store.port("kept") is not None


def test_journal_newest_first_and_only_what_the_caller_may_see():
    store = LiveStore(Clock())
    store.record([{"host": "h", "port_id": "a1", "project_id": "A", "kind": "drift",
                   "detail": "tbf"},
                  {"host": "h", "port_id": "b1", "project_id": "B", "kind": "error",
                   "detail": "tc"}])
    assert [e["port_id"] for e in store.events(lambda p: True)] == ["b1", "a1"]
    assert [e["port_id"] for e in store.events(lambda p: p == "A")] == ["a1"]
    assert store.events(lambda p: True, port_id="a1")[0]["kind"] == "drift"
