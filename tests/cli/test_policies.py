"""`netqos policy …` and `netqos rule …` through the real command against a live server."""
from __future__ import annotations

import yaml

from tests.cli.conftest import ok, uniq


def test_policy_lifecycle(nq, http):
    name = uniq("gold")
    created = ok(nq("policy", "create", name, "--description", "gold tier", "--share",
                    "-f", "json")).json()
    assert created["name"] == name and created["shared"] is True
    assert created["description"] == "gold tier"
    pid = created["id"]
    assert http.get(f"/v2.0/qos/policies/{pid}").json()["policy"]["name"] == name

    table = ok(nq("policy", "list")).stdout
    assert name in table and pid in table and table.startswith("+--")

    ok(nq("policy", "set", name, "--name", name + "-2", "--description", "changed",
          "--no-share"))
    shown = ok(nq("policy", "show", pid, "-f", "json")).json()
    assert shown["name"] == name + "-2" and shown["description"] == "changed"
    assert shown["shared"] is False and shown["used_by"]["ports"] == 0

    assert ok(nq("policy", "show", name + "-2", "-f", "value", "-c", "id")).stdout.strip() \
        == pid
    doc = yaml.safe_load(ok(nq("policy", "show", name + "-2", "-f", "yaml")).stdout)
    assert doc["id"] == pid

    res = ok(nq("policy", "delete", name + "-2"))
    assert pid in res.stdout
    assert http.get(f"/v2.0/qos/policies/{pid}").status_code == 404


def test_every_rule_type_with_human_units(nq, http):
    name = uniq("all")
    pid = ok(nq("policy", "create", name, "-f", "json")).json()["id"]
    added = ok(nq("rule", "add", name, "--type", "bw-limit", "--max", "100mbit",
                  "--burst", "2mbit", "--direction", "both", "-f", "json")).json()
    assert sorted(r["direction"] for r in added) == ["egress", "ingress"]
    assert {r["max_kbps"] for r in added} == {100_000}
    assert {r["max_burst_kbps"] for r in added} == {2000}
    ok(nq("rule", "add", name, "--type", "dscp", "--dscp", "AF31"))
    ok(nq("rule", "add", name, "--type", "min-bw", "--min", "50mbit", "--direction", "out"))
    ok(nq("rule", "add", name, "--type", "pps-limit", "--max", "10kpps", "--burst", "1kpps",
          "--direction", "in"))
    ok(nq("rule", "add", name, "--type", "min-pps", "--min", "5000pps", "--direction", "any"))

    # On the wire: kbit/s and kpps, Neutron's field names.
    wire = {(r["type"], r.get("direction")): r for r in
            http.get(f"/v2.0/qos/policies/{pid}").json()["policy"]["rules"]}
    assert wire[("bandwidth_limit", "ingress")]["max_kbps"] == 100_000
    assert wire[("dscp_marking", None)]["dscp_mark"] == 26
    assert wire[("minimum_bandwidth", "egress")]["min_kbps"] == 50_000
    assert wire[("packet_rate_limit", "ingress")]["max_kpps"] == 10
    assert wire[("packet_rate_limit", "ingress")]["max_burst_kpps"] == 1
    assert wire[("minimum_packet_rate", "any")]["min_kpps"] == 5

    # For people: the same units back.
    table = ok(nq("rule", "list", name)).stdout
    for text in ("100mbit burst 2mbit", "AF31 (26)", "50mbit", "10kpps burst 1kpps",
                 "5kpps", "bw-limit", "min-pps", "pps-limit"):
        assert text in table, table
    show = ok(nq("policy", "show", name)).stdout
    assert "bw-limit in 100mbit burst 2mbit" in show and "dscp AF31 (26)" in show

    # json carries machine values and the human one side by side.
    rows = ok(nq("rule", "list", name, "--type", "bw-limit", "-f", "json")).json()
    assert {(r["max_kbps"], r["value"]) for r in rows} == {(100_000, "100mbit burst 2mbit")}

    # set by type and direction, then by id; delete by type, then by id.
    ok(nq("rule", "set", name, "--type", "bw-limit", "--direction", "in", "--max", "1gbit"))
    assert sorted(ok(nq("rule", "list", name, "--type", "bw-limit", "-f", "value", "-c",
                        "direction", "-c", "value")).stdout.splitlines()) \
        == ["in 1gbit burst 2mbit", "out 100mbit burst 2mbit"]
    got = {r["direction"]: r["max_kbps"] for r in
           ok(nq("rule", "list", name, "--type", "bw-limit", "-f", "json")).json()}
    assert got == {"ingress": 1_000_000, "egress": 100_000}
    dscp_id = wire[("dscp_marking", None)]["id"]
    ok(nq("rule", "set", name, dscp_id[:8], "--dscp", "EF"))
    assert http.get(f"/v2.0/qos/alias_dscp_marking_rules/{dscp_id}").json()[
        "alias_dscp_marking_rule"]["dscp_mark"] == 46
    ok(nq("rule", "delete", name, "--type", "bw-limit", "--direction", "both"))
    ok(nq("rule", "delete", name, dscp_id))
    left = {r["type"] for r in http.get(f"/v2.0/qos/policies/{pid}").json()["policy"]["rules"]}
    assert left == {"minimum_bandwidth", "packet_rate_limit", "minimum_packet_rate"}
    ok(nq("policy", "delete", pid))


def test_human_units_round_trip(nq):
    name = uniq("units")
    ok(nq("policy", "create", name))
    for given, wire, shown in (("2.5mbit", 2500, "2500kbit"), ("1gbit", 10**6, "1gbit"),
                               ("500kbit", 500, "500kbit"), ("64kbyte", 512, "512kbit"),
                               ("123456", 123456, "123456kbit")):
        ok(nq("rule", "delete", name, "--type", "bw-limit")) if given != "2.5mbit" else None
        rule = ok(nq("rule", "add", name, "--type", "bw-limit", "--max", given,
                     "-f", "json")).json()[0]
        assert rule["max_kbps"] == wire
        assert rule["value"] == shown
        # what we show parses back to the same value
        again = ok(nq("rule", "set", name, "--type", "bw-limit", "--max", shown, "-f",
                      "json")).json()[0]
        assert again["max_kbps"] == wire
    ok(nq("policy", "delete", name))


def test_name_resolution_and_ambiguity(nq, http):
    name = uniq("twin")
    ids = [http.post("/v2.0/qos/policies", json={"policy": {"name": name}}).json()["policy"]["id"]
           for _ in range(2)]
    res = nq("policy", "show", name)
    assert res.returncode == 1, res
    assert "2 QoS policies match" in res.stderr and all(i in res.stderr for i in ids), res
    assert "Traceback" not in res.stderr
    # an id, or an unambiguous id prefix, still works
    assert ok(nq("policy", "show", ids[0], "-f", "json")).json()["id"] == ids[0]
    assert ok(nq("policy", "show", ids[1][:13], "-f", "json")).json()["id"] == ids[1]
    res = nq("rule", "add", name, "--type", "dscp", "--dscp", "EF")
    assert res.returncode == 1 and "match" in res.stderr, res
    res = nq("policy", "delete", *ids)
    assert res.returncode == 0, res


def test_delete_refused_while_bound(nq, http):
    name = uniq("bound")
    pid = ok(nq("policy", "create", name, "-f", "json")).json()["id"]
    net = http.post("/v2.0/networks", json={"network": {"name": uniq("n"),
                                                        "qos_policy_id": pid}}).json()["network"]
    res = nq("policy", "delete", name)
    assert res.returncode == 1, res
    assert "QosPolicyInUse" in res.stderr and "is used by network" in res.stderr, res
    assert "Traceback" not in res.stderr
    assert ok(nq("policy", "show", name, "-f", "json")).json()["used_by"]["networks"] == 1
    ok(nq("network", "unset", net["id"]))
    ok(nq("policy", "delete", name))
