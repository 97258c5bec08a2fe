"""Cluster mode end to end: PostgreSQL, RabbitMQ, `netqos server --workers 2`, and one
`netqos agent` process per simulated host, checked against the kernel's tc state.

The agents have no revision poll and a 300 s resync (see conftest.py): whatever converges
here within seconds came through RabbitMQ (or, after an outage, through the full pull an
agent does when its bus connection comes back).
"""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.cluster


def test_policy_update_reaches_every_port_through_the_bus(bed):
    c = bed.cluster
    resp = c.set_rate(bed.policy["id"], bed.rule["id"], 20_000)
    assert resp.status_code == 200, resp.text
    # A wait, not a measurement: bench/propagation.py measures how fast this is.
    took = c.wait_enforced(bed.want(20_000), timeout=20)
    print(f"200 ports on 4 hosts enforced {took:.2f} s after the API's 200")


def test_broker_outage_while_policies_change(bed, rabbitmq_server):
    """RabbitMQ down for 30 s while the rule changes three times and one port moves to
    another policy: nothing arrives meanwhile (there is no other path), and once the broker
    is back every host converges on the final state, nothing lost and nothing stale."""
    c = bed.cluster
    other, _ = c.policy(7_000, name="moved")
    moved = bed.ports[0]                    # a port-level change: routed to its host only
    before = c.kernel_rates()
    rabbitmq_server.stop()
    down_at = time.monotonic()
    try:
        for kbps in (31_000, 32_000, 33_000):
            assert c.set_rate(bed.policy["id"], bed.rule["id"], kbps).status_code == 200
            time.sleep(2)
        c.ok(c.api.put(f"/v2.0/ports/{moved}", json={"port": {"qos_policy_id": other["id"]}}))
        time.sleep(3)
        # Level-triggered, but only woken by the bus: the kernel still holds the old state.
        assert c.kernel_rates() == before
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    finally:
        rabbitmq_server.start()
    back_at = time.monotonic()
    want = bed.want(33_000)
    want[moved] = 7_000
    c.wait_enforced(want, timeout=30)   # fails with what differs if it never converges
    print(f"converged {time.monotonic() - back_at:.2f} s after the broker answered again")
    # Put the moved port back for the next tests.
    c.ok(c.api.put(f"/v2.0/ports/{moved}", json={"port": {"qos_policy_id": None}}))
    c.wait_enforced(bed.want(33_000), timeout=20)


def rate_of(i: int) -> int:
    """Distinct rates at least 5 % apart (the tc backend treats rates within 2 % as
    equal, so closer ones would not show in the kernel)."""
    return int(20_000 * 1.05 ** (i % 80))


def _current_kbps(c, bed) -> int:
    rule = c.ok(c.api.get(f"/v2.0/qos/policies/{bed.policy['id']}/bandwidth_limit_rules/"
                          f"{bed.rule['id']}"))["bandwidth_limit_rule"]
    return rule["max_kbps"]


def test_agent_killed_mid_update_is_shown_dead_and_converges_on_restart(bed):
    c = bed.cluster
    host = c.hosts[0]
    taps = {f"tap{p[:11]}" for p in host.ports}
    kbps = _current_kbps(c, bed)
    # SIGKILL the agent at several moments after the API's answer (while the event is in
    # flight, during the pull, during the tc batch, while reporting); each time a new agent
    # must converge on the newest state whatever the kernel was left holding.
    outcomes = []
    for delay in (0.0, 0.02, 0.05, 0.07, 0.085, 0.1):
        kbps = kbps * 11 // 10           # the tc backend treats rates within 2 % as equal
        assert c.set_rate(bed.policy["id"], bed.rule["id"], kbps).status_code == 200
        time.sleep(delay)
        host.kill_agent()
        rates = host.tbf_rates()
        outcomes.append(sum(1 for t in taps if rates.get(t) == kbps * 125))
        host.start_agent()
        c.wait_enforced(bed.want(kbps), timeout=20)
    print(f"taps already updated when the agent died: {outcomes} of {len(taps)}")
    host.kill_agent()

    # Dead after three missed heartbeats (2 s each): /v2.0/agents and its ports say so.
    t0 = time.monotonic()
    while c.agents()[host.name]["alive"]:
        assert time.monotonic() - t0 < 15, "agent never shown dead"
        time.sleep(0.5)
    port = c.ok(c.api.get(f"/v2.0/ports/{host.ports[0]}"))["port"]
    assert port["status"] == "DOWN"
    assert port["netqos:qos_state"]["status"] == "AGENT_DOWN"
    assert host.name in port["netqos:qos_state"]["reason"]
    alive_port = c.ok(c.api.get(f"/v2.0/ports/{c.hosts[1].ports[0]}"))["port"]
    assert alive_port["status"] == "ACTIVE", alive_port["netqos:qos_state"]
    assert c.agents()[c.hosts[1].name]["alive"]

    # A change while it is dead, then the restart: it converges on the newest state.
    final = kbps * 11 // 10
    assert c.set_rate(bed.policy["id"], bed.rule["id"], final).status_code == 200
    host.start_agent()
    c.wait_enforced(bed.want(final), timeout=20)
    t0 = time.monotonic()
    while True:
        port = c.ok(c.api.get(f"/v2.0/ports/{host.ports[0]}"))["port"]
        if c.agents()[host.name]["alive"] and port["status"] == "ACTIVE":
            break
        assert time.monotonic() - t0 < 15, port
        time.sleep(0.3)
    assert port["netqos:qos_state"]["applied_revision"] == \
        port["netqos:qos_state"]["desired_revision"]


def test_server_restart_mid_batch_loses_no_acknowledged_write(bed):
    """A client writes policies one after another while the server (2 workers) restarts:
    every write that got a 2xx is in the database afterwards, and the agents converge on the
    last acknowledged rule value although the server went away under them."""
    import threading

    import httpx

    c = bed.cluster
    acked: dict[str, str] = {}       # policy id -> name, for every 2xx create
    acked_rates: list[int] = []      # rule values acknowledged, in order
    attempted: list[int] = []        # every rule value sent, in order
    failures = []
    stop = threading.Event()

    def writer():
        i = 0
        with c.client(timeout=10) as client:
            while not stop.is_set():
                i += 1
                name = f"restart-{i}"
                try:
                    r = client.post("/v2.0/qos/policies", json={"policy": {"name": name}})
                    if r.status_code == 201:
                        acked[r.json()["policy"]["id"]] = name
                    kbps = rate_of(i)
                    attempted.append(kbps)
                    r = client.put(f"/v2.0/qos/policies/{bed.policy['id']}/"
                                   f"bandwidth_limit_rules/{bed.rule['id']}",
                                   json={"bandwidth_limit_rule": {"max_kbps": kbps}})
                    if r.status_code == 200:
                        acked_rates.append(kbps)
                    else:
                        failures.append((r.status_code, r.text[:200]))
                except httpx.HTTPError as exc:
                    failures.append(type(exc).__name__)   # unacknowledged: no promise
                    time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(1.5)
        c.server.restart()
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(30)
    print(f"{len(acked)} creates and {len(acked_rates)} rule updates acknowledged; "
          f"{len(failures)} unacknowledged: {sorted(set(map(str, failures)))[:5]}")
    assert len(acked) > 5 and acked_rates
    listed = {p["id"]: p["name"] for p in
              c.ok(c.api.get("/v2.0/qos/policies"))["policies"]}
    lost = {pid: name for pid, name in acked.items() if listed.get(pid) != name}
    assert not lost, f"acknowledged creates lost: {lost}"
    # The last acknowledged rule write is what the database holds, or a later write whose
    # answer was lost.
    final = _current_kbps(c, bed)
    last_acked = len(attempted) - 1 - attempted[::-1].index(acked_rates[-1])
    assert final in attempted[last_acked:]
    c.wait_enforced(bed.want(final), timeout=30)


def test_concurrent_if_match_updates_of_one_rule(bed):
    """16 clients (2 server workers, PostgreSQL) update the same rule, each with If-Match on
    the policy revision it last read: every success makes a new revision, stale writes get
    412, and the final state is the last successful write, enforced on every port."""
    import threading

    c = bed.cluster
    pid, rid = bed.policy["id"], bed.rule["id"]
    path = f"/v2.0/qos/policies/{pid}"
    start_rev = c.ok(c.api.get(path))["policy"]["revision_number"]
    wins: list[tuple[int, int]] = []          # (If-Match revision, kbps written)
    stale, other = [], []
    lock = threading.Lock()

    def client(n: int):
        with c.client() as api:
            for attempt in range(6):
                rev = api.get(path).json()["policy"]["revision_number"]
                kbps = rate_of(n * 6 + attempt)
                r = api.put(f"{path}/bandwidth_limit_rules/{rid}",
                            headers={"If-Match": f"revision_number={rev}"},
                            json={"bandwidth_limit_rule": {"max_kbps": kbps}})
                with lock:
                    if r.status_code == 200:
                        assert r.json()["bandwidth_limit_rule"]["max_kbps"] == kbps
                        wins.append((rev, kbps))
                    elif r.status_code == 412:
                        stale.append(rev)
                    else:
                        other.append((r.status_code, r.text[:300]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    print(f"{len(wins)} successes, {len(stale)} x 412, others: {other[:3]}")
    assert not other, other
    assert wins and stale, "no contention: the test proved nothing"
    revs = [rev for rev, _ in wins]
    assert len(set(revs)) == len(revs), "two writes succeeded on the same revision"
    policy = c.ok(c.api.get(path))["policy"]
    assert policy["revision_number"] == start_rev + len(wins)
    assert sorted(revs) == list(range(start_rev, start_rev + len(wins)))
    last_kbps = max(wins)[1]              # the success on the highest revision came last
    rule = next(r for r in policy["rules"] if r["id"] == rid)
    assert rule["max_kbps"] == last_kbps
    c.wait_enforced(bed.want(last_kbps), timeout=20)
