"""The one apply driver (agent/backends/driver.py): the outcome per port of a batched
apply, whatever the backend. Its steps here are plain functions over strings (the driver
only batches, pins and records; the backends' own steps run against the real kernel and
switch in tests/dataplane)."""
from __future__ import annotations

from dataclasses import dataclass

from netqos.agent.backends import driver
from netqos.agent.backends.changes import HOST, Action, Change, leftover


@dataclass(frozen=True)
class Lines:
    lines: tuple[str, ...] = ()
    memo: tuple = ()


def change(owner: str, *lines: str, action=Action.UPDATE, drift=False, memo=()) -> Change:
    return Change(owner, action, f"{owner} thing", "", drift, Lines(lines, memo))


def lines(c: Change) -> tuple[str, ...]:
    return c.payload.lines


def failing(bad: str, sent: list):
    """A batch that runs every line and reports the ones containing `bad`."""
    def run(items: list[str]) -> dict[int, str]:
        sent.append(list(items))
        return {n: f"refused {item}" for n, item in enumerate(items) if bad in item}
    return run


def test_failures_are_pinned_on_their_changes_and_the_rest_is_applied():
    memo: dict = {}
    changes = [change("p1", "a1", "a2", memo=((("p1", "x"), 1),)),
               change("p2", "BAD", memo=((("p2", "x"), 2),)),
               change("p3", "a3", drift=True),
               change("p4", action=Action.SKIP)]
    sent: list = []
    result = driver.apply(changes, [driver.Step("tool", lines, failing("BAD", sent))],
                          driver.remember_payload(memo))
    assert sent == [["a1", "a2", "BAD", "a3"]]              # one batch, plan order
    assert result.errors == {"p4": "p4 thing", "p2": "refused BAD"}
    assert result.applied == ["p1", "p3"]
    assert result.drift_repaired == {"p3": ["p3 thing"]}
    assert memo == {("p1", "x"): 1}                         # what failed is not remembered


def test_items_are_ordered_by_key_stably():
    sent: list = []
    changes = [change("p1", "2:p1a", "1:p1b", "2:p1c"), change("p2", "1:p2a", "2:p2b")]
    driver.apply(changes, [driver.Step("t", lines, failing("-", sent),
                                       key=lambda line: line[0])], lambda c: None)
    assert sent == [["1:p1b", "1:p2a", "2:p1a", "2:p1c", "2:p2b"]]


def test_a_change_that_failed_goes_no_further_unless_the_step_says():
    first: list = []
    later: list = []
    also: list = []
    changes = [change("p1", "BAD"), change("p2", "ok")]
    result = driver.apply(changes, [
        driver.Step("one", lines, failing("BAD", first)),
        driver.Step("two", lines, failing("-", later), after_failure=False),
        driver.Step("three", lines, failing("BAD", also))], lambda c: None)
    assert later == [["ok"]] and also == [["BAD", "ok"]]
    assert result.errors == {"p1": "refused BAD"}           # the first reason stays


def test_an_atomic_batch_that_fails_whole_is_retried_change_by_change():
    sent: list = []

    def transaction(items: list[str]) -> dict[int, str]:
        sent.append(list(items))
        if "BAD" in items:
            raise driver.BatchFailed("transaction refused")
        return {}
    changes = [change(HOST, "skeleton"), change("p1", "BAD"), change("p2", "ok")]
    result = driver.apply(changes, [driver.Step("nft", lines, transaction, isolate=True)],
                          lambda c: None)
    assert sent == [["skeleton", "BAD", "ok"], ["skeleton"], ["BAD"], ["ok"]]
    assert result.errors == {"p1": "transaction refused"}
    assert result.applied == ["p2"]                         # the host is no port


def test_a_whole_failure_without_isolation_is_every_changes():
    def broken(items: list[str]) -> dict[int, str]:
        raise OSError("switch gone")
    result = driver.apply([change("p1", "a"), change("p2", "b"), change("p3")],
                          [driver.Step("meters", lines, broken,
                                       describe=lambda e: f"OpenFlow: {e}")], lambda c: None)
    assert result.errors == {"p1": "OpenFlow: switch gone", "p2": "OpenFlow: switch gone"}
    assert result.applied == ["p3"]                          # it had nothing in the batch


def test_attempts_send_the_rest_again_after_pinning():
    sent: list = []

    def bundle(items: list[str]) -> dict[int, str]:      # stops at its first bad line
        sent.append(list(items))
        bad = next((n for n, item in enumerate(items) if "BAD" in item), None)
        return {} if bad is None else {bad: f"refused {items[bad]}"}
    changes = [change("p1", "BAD1"), change("p2", "ok"), change("p3", "BAD3")]
    result = driver.apply(changes, [driver.Step("flows", lines, bundle, after_failure=False,
                                                attempts=3)], lambda c: None)
    assert sent == [["BAD1", "ok", "BAD3"], ["ok", "BAD3"], ["ok"]]
    assert result.errors == {"p1": "refused BAD1", "p3": "refused BAD3"}
    assert result.applied == ["p2"]


def test_owners_that_are_no_port_are_never_applied_but_their_errors_show():
    cleaned: list = []
    changes = [change(leftover("tap1 3"), "x"), change(HOST, "BAD"), change("p1", "y")]
    result = driver.apply(changes, [driver.Step("tc", lines, failing("BAD", []),
                                                cleanup=lambda: cleaned.append(1))],
                          lambda c: None)
    assert result.applied == ["p1"] and result.errors == {"(host)": "refused BAD"}
    assert cleaned == [1]
    assert str(changes[0]).split()[:2] == ["update", "(tap1"]


def test_timings_per_step_name_add_up():
    timings: dict = {}
    driver.apply([change("p1", "a")], [driver.Step("ovsdb", lines, failing("-", [])),
                                      driver.Step("flows", lines, failing("-", [])),
                                      driver.Step("ovsdb", lines, failing("-", []))],
                 lambda c: None, timings)
    assert set(timings) == {"ovsdb", "flows"} and all(t >= 0 for t in timings.values())


def test_actions_are_typed_and_read_as_before():
    c = Change("p1", "create", "x")
    assert c.action is Action.CREATE and c.action == "create" and c.for_port
    assert not Change(HOST, Action.DELETE, "y").for_port
    assert str(c).startswith("create p1")
