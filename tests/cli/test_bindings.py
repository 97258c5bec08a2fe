"""`netqos port|network|fip|router set --policy` / `unset`, bulk with progress, agents."""
from __future__ import annotations

from tests.cli.conftest import ok, uniq


def _net(http, **extra):
    return http.post("/v2.0/networks", json={"network": {"name": uniq("net"), **extra}}
                     ).json()["network"]


def _port(http, net_id, name, host="cli-host"):
    return http.post("/v2.0/ports", json={"port": {"network_id": net_id, "name": name,
                                                   "binding:host_id": host}}).json()["port"]


def test_port_and_network_bindings(nq, http):
    policy = uniq("gold")
    pid = ok(nq("policy", "create", policy, "-f", "json")).json()["id"]
    ok(nq("rule", "add", policy, "--type", "bw-limit", "--max", "10mbit"))
    net = _net(http)
    port = _port(http, net["id"], uniq("vm"))

    res = ok(nq("port", "set", port["name"], "--policy", policy))
    assert f"bound policy {policy} to 1 port" in res.stdout
    assert http.get(f"/v2.0/ports/{port['id']}").json()["port"]["qos_policy_id"] == pid
    shown = ok(nq("port", "show", port["id"], "-f", "json")).json()
    assert shown["effective_policy_id"] == pid and shown["policy"] == policy

    ok(nq("port", "unset", port["name"]))
    assert http.get(f"/v2.0/ports/{port['id']}").json()["port"]["qos_policy_id"] is None

    ok(nq("network", "set", net["name"], "--policy", pid))
    assert http.get(f"/v2.0/networks/{net['id']}").json()["network"]["qos_policy_id"] == pid
    listed = ok(nq("port", "list", "--network", net["name"], "-f", "json")).json()
    assert [p["policy"] for p in listed] == [f"{policy} (network)"]
    assert ok(nq("network", "show", net["id"], "-f", "value", "-c", "Policy")
              ).stdout.strip() == policy
    ok(nq("network", "unset", net["id"]))
    assert http.get(f"/v2.0/networks/{net['id']}").json()["network"]["qos_policy_id"] is None


def test_floating_ip_and_router_gateway(nq, http):
    policy = uniq("fipqos")
    pid = ok(nq("policy", "create", policy, "-f", "json")).json()["id"]
    ext = _net(http, **{"router:external": True})
    http.post("/v2.0/subnets", json={"subnet": {"network_id": ext["id"], "ip_version": 4,
                                                "cidr": "198.18.200.0/24"}})
    fip = http.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": ext["id"]}}).json()["floatingip"]
    router = http.post("/v2.0/routers", json={"router": {
        "name": uniq("r"), "external_gateway_info": {"network_id": ext["id"]}}}).json()["router"]

    ok(nq("fip", "set", fip["floating_ip_address"], "--policy", policy))
    assert http.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["qos_policy_id"] \
        == pid
    ok(nq("router", "set", router["name"], "--policy", policy))
    gw = http.get(f"/v2.0/routers/{router['id']}").json()["router"]["external_gateway_info"]
    assert gw["qos_policy_id"] == pid and gw["network_id"] == ext["id"]
    used = ok(nq("policy", "show", policy, "-f", "json")).json()["used_by"]
    assert used["floating IPs"] == 1 and used["router gateways"] == 1

    ok(nq("fip", "unset", fip["id"]))
    ok(nq("router", "unset", router["id"]))
    assert http.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["qos_policy_id"] \
        is None
    assert "qos_policy_id" not in http.get(f"/v2.0/routers/{router['id']}").json()["router"][
        "external_gateway_info"]   # a gateway without a policy shows none, as in Neutron


def test_bulk_set_on_a_network_with_progress(nq, http):
    policy = uniq("bulk")
    pid = ok(nq("policy", "create", policy, "-f", "json")).json()["id"]
    net = _net(http)
    ports = [_port(http, net["id"], uniq("b")) for _ in range(25)]

    res = ok(nq("port", "set", "--policy", policy, "--all-on-network", net["name"],
                "--progress"))
    assert "bound policy" in res.stdout and "to 25 ports" in res.stdout
    assert "25/25" in res.stderr, res           # progress goes to stderr …
    assert "[" not in res.stdout
    for p in ports:
        assert http.get(f"/v2.0/ports/{p['id']}").json()["port"]["qos_policy_id"] == pid

    quiet = ok(nq("port", "unset", "--all-on-network", net["id"]))
    assert quiet.stderr == ""                   # … and only when asked (not a TTY here)
    assert "detached the policy of 25 ports" in quiet.stdout
    assert all(http.get(f"/v2.0/ports/{p['id']}").json()["port"]["qos_policy_id"] is None
               for p in ports)


def test_agent_list_and_rule_types(nq, http):
    http.post("/v2.0/netqos/hosts/cli-agent-host/report", json={"report": {
        "agent": {"agent_type": "netqos", "backends": ["linuxtc"],
                  "uplinks": {"eth0": 10_000_000}, "started": True}, "ports": []}})
    for argv in (("agent", "list"), ("agents",)):
        table = ok(nq(*argv)).stdout
        assert "cli-agent-host" in table and "eth0 10gbit" in table, table
    rows = ok(nq("agent", "list", "-f", "json")).json()
    mine = next(a for a in rows if a["host"] == "cli-agent-host")
    assert mine["backends"] == ["linuxtc"]

    types = ok(nq("rule-types", "-f", "json")).json()
    assert {t["type"] for t in types} >= {"bandwidth_limit", "dscp_marking"}
    detail = ok(nq("rule-types", "bw-limit")).stdout
    assert "max_kbps" in detail
