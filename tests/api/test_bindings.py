"""Binding QoS policies to ports, networks, floating IPs and router gateways, through real
HTTP on SQLite and PostgreSQL: effective policy as the agents see it, defaults, in-use and
sharing conflicts, the backend support matrix, minimum-bandwidth admission, revisions, and
the routers, floating IPs and IPAM that bindings rely on."""
from __future__ import annotations

import ipaddress
import uuid

import pytest

from tests.api.conftest import POLICIES, assert_error, member, new_project, rules_url, who
from tests.api.helpers_core import (FLOATINGIPS, NETWORKS, PORTS, RBAC, ROUTERS, SUBNETS,
                                    core, host_port, host_ports, host_revision, next_v4,
                                    next_v6, ok, report_agent)

__all__ = ["core"]  # the fixture, imported for pytest


def policy_with(new_policy, *rules: tuple[str, dict], **attrs) -> dict:
    policy = new_policy(**attrs)
    for rule_type, values in rules:
        new_policy.rule(policy["id"], rule_type, **values)
    return policy


def bw(max_kbps=10000, direction="egress", **more):
    return ("bandwidth_limit", {"max_kbps": max_kbps, "direction": direction, **more})


def min_bw(min_kbps, direction="egress"):
    return ("minimum_bandwidth", {"min_kbps": min_kbps, "direction": direction})


# -- effective policy ----------------------------------------------------------------------

def test_port_policy_overrides_network_policy(api, core, new_policy):
    net_policy = policy_with(new_policy, bw(5000))
    port_policy = policy_with(new_policy, bw(7000), ("dscp_marking", {"dscp_mark": 26}))
    net = core.network(qos_policy_id=net_policy["id"])
    core.subnet(net)
    host = core.host()
    inherits = core.port(net, host=host)
    own = core.port(net, host=host, qos_policy_id=port_policy["id"])

    assert inherits["qos_policy_id"] is None
    assert inherits["qos_network_policy_id"] == net_policy["id"]
    assert own["qos_policy_id"] == port_policy["id"]
    assert own["qos_network_policy_id"] == net_policy["id"]

    doc = host_ports(api, host)
    by_id = {p["port_id"]: p for p in doc["ports"]}
    assert set(by_id) == {inherits["id"], own["id"]}
    assert by_id[inherits["id"]]["policy_id"] == net_policy["id"]
    assert by_id[inherits["id"]]["rules"] == [
        {"type": "bandwidth_limit", "max_kbps": 5000, "max_burst_kbps": 0,
         "direction": "egress"}]
    assert by_id[own["id"]]["policy_id"] == port_policy["id"]
    assert sorted(r["type"] for r in by_id[own["id"]]["rules"]) == ["bandwidth_limit",
                                                                     "dscp_marking"]
    assert by_id[inherits["id"]]["mac_address"] == inherits["mac_address"]
    assert by_id[inherits["id"]]["fixed_ips"] == [a["ip_address"] for a in inherits["fixed_ips"]]

    # Detaching the port's own policy falls back to the network's.
    body = ok(core.update(PORTS, own["id"], "port", qos_policy_id=None))["port"]
    assert body["qos_policy_id"] is None and body["qos_network_policy_id"] == net_policy["id"]
    assert host_port(api, host, own["id"])["policy_id"] == net_policy["id"]
    # Detaching the network's leaves the ports without QoS.
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=None))
    for p in host_ports(api, host)["ports"]:
        assert p["policy_id"] is None and p["rules"] == []
    port = ok(api.get(f"{PORTS}/{inherits['id']}"))["port"]
    assert port["qos_network_policy_id"] is None


@pytest.mark.parametrize("owner, inherits", [
    ("", True),
    ("compute:nova", True),
    ("network:router_gateway", True),
    ("network:floatingip_agent_gateway", True),
    ("network:dhcp", False),
    ("network:router_interface", False),
    ("network:distributed", False),
    ("neutron:LOADBALANCERV2", False),
])
def test_network_policy_skips_service_ports(api, core, new_policy, owner, inherits):
    net_policy = policy_with(new_policy, bw(3000))
    port_policy = policy_with(new_policy, bw(4000))
    net = core.network(qos_policy_id=net_policy["id"])
    core.subnet(net)
    host = core.host()
    port = core.port(net, host=host, device_owner=owner, device_id=str(uuid.uuid4()))
    entry = host_port(api, host, port["id"])
    if inherits:
        assert entry["policy_id"] == net_policy["id"]
        assert entry["rules"][0]["max_kbps"] == 3000
    else:
        assert entry["policy_id"] is None and entry["rules"] == []
    # The network's policy still shows on the port, whether or not it applies.
    assert port["qos_network_policy_id"] == net_policy["id"]
    # A service port's own policy always applies.
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=port_policy["id"]))
    assert host_port(api, host, port["id"])["policy_id"] == port_policy["id"]


def test_service_port_owner_change_changes_effective_policy(api, core, new_policy):
    net_policy = policy_with(new_policy, bw(3000))
    net = core.network(qos_policy_id=net_policy["id"])
    host = core.host()
    port = core.port(net, host=host)
    assert host_port(api, host, port["id"])["policy_id"] == net_policy["id"]
    before = host_revision(api, host)
    ok(core.update(PORTS, port["id"], "port", device_owner="network:dhcp"))
    entry = host_port(api, host, port["id"])
    assert entry["policy_id"] is None
    assert host_revision(api, host) > before
    assert entry["revision"] == host_revision(api, host)


def test_router_interface_by_port_changes_effective_policy(api, core, new_policy):
    net_policy = policy_with(new_policy, bw(3000))
    net = core.network(qos_policy_id=net_policy["id"])
    core.subnet(net)
    host = core.host()
    port = core.port(net, host=host)
    router = core.router()
    rev = Revisions(api, host)
    assert rev.port(port["id"])["policy_id"] == net_policy["id"]
    # As a router interface it is a service port: the network's policy no longer applies.
    core.add_interface(router, port_id=port["id"])
    assert rev.raised(port["id"])["policy_id"] is None
    # Removing the interface deletes the port; its host hears of it.
    ok(api.put(f"{ROUTERS}/{router['id']}/remove_router_interface",
               json={"port_id": port["id"]}))
    rev.raised()
    assert host_ports(api, host)["ports"] == []


def test_tenant_cannot_opt_out_of_network_policy(api, core, new_policy):
    """A service device_owner takes a port out of its network's policy: on a network it
    does not own, a tenant may not set one (Neutron's network_device rule)."""
    owner, tenant = new_project(), new_project()
    owner_h, tenant_h = who(owner, "member"), who(tenant, "member")
    policy = policy_with(new_policy, bw(1000), project_id=owner)
    net = core.network(headers=owner_h, qos_policy_id=policy["id"])
    core.subnet(net, headers=owner_h)
    core.rbac("network", net["id"], tenant, headers=owner_h)
    for service_owner in ("network:dhcp", "network:router_interface", "neutron:LOADBALANCERV2"):
        assert_error(api.post(PORTS, headers=tenant_h, json={"port": {
            "network_id": net["id"], "device_owner": service_owner}}), 403)
    port = core.port(net, headers=tenant_h, device_owner="compute:nova")
    assert port["qos_network_policy_id"] == policy["id"]
    assert_error(core.update(PORTS, port["id"], "port", headers=tenant_h,
                             device_owner="network:dhcp"), 403)
    ok(core.update(PORTS, port["id"], "port", headers=tenant_h, device_owner="compute:az2"))
    # The network's owner (and an admin) may.
    own = core.port(net, headers=owner_h, device_owner="network:dhcp")
    assert own["device_owner"] == "network:dhcp"
    ok(core.update(PORTS, port["id"], "port", device_owner="network:dhcp"))


def test_floating_ip_shows_network_policy(api, core, new_policy):
    ext_policy = policy_with(new_policy, bw(100000))
    fip_policy = policy_with(new_policy, bw(2000))
    ext, _ = core.external_network(qos_policy_id=ext_policy["id"])
    fip = core.floatingip(ext)
    assert fip["qos_policy_id"] is None
    assert fip["qos_network_policy_id"] == ext_policy["id"]
    assert ipaddress.ip_address(fip["floating_ip_address"]) in ipaddress.ip_network(
        "198.19.0.0/16")

    fip = ok(core.update(FLOATINGIPS, fip["id"], "floatingip",
                         qos_policy_id=fip_policy["id"]))["floatingip"]
    assert fip["qos_policy_id"] == fip_policy["id"]
    assert fip["qos_network_policy_id"] == ext_policy["id"]
    listed = ok(api.get(FLOATINGIPS, params={"qos_policy_id": fip_policy["id"]}))
    assert [f["id"] for f in listed["floatingips"]] == [fip["id"]]
    fip = ok(core.update(FLOATINGIPS, fip["id"], "floatingip", qos_policy_id=None))
    assert fip["floatingip"]["qos_policy_id"] is None
    # A floating IP created with a policy has it.
    fip2 = core.floatingip(ext, qos_policy_id=fip_policy["id"])
    assert fip2["qos_policy_id"] == fip_policy["id"]
    assert fip2["floating_ip_address"] != fip["floatingip"]["floating_ip_address"]


def test_router_gateway_policy(api, core, new_policy):
    gw_policy = policy_with(new_policy, bw(50000))
    other = policy_with(new_policy, bw(60000))
    ext, ext_sub = core.external_network()
    router = core.router(external_gateway_info={"network_id": ext["id"],
                                                "qos_policy_id": gw_policy["id"]})
    info = router["external_gateway_info"]
    assert info["network_id"] == ext["id"] and info["qos_policy_id"] == gw_policy["id"]
    assert info["external_fixed_ips"][0]["subnet_id"] == ext_sub["id"]
    assert ok(api.get(f"{ROUTERS}/{router['id']}"))["router"]["external_gateway_info"][
        "qos_policy_id"] == gw_policy["id"]

    # Changing only the policy keeps the gateway port and its address.
    updated = ok(core.update(ROUTERS, router["id"], "router", external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": other["id"]}))["router"]
    assert updated["external_gateway_info"]["qos_policy_id"] == other["id"]
    assert updated["external_gateway_info"]["external_fixed_ips"] == info["external_fixed_ips"]
    updated = ok(core.update(ROUTERS, router["id"], "router", external_gateway_info={
        "network_id": ext["id"], "qos_policy_id": None}))["router"]
    assert "qos_policy_id" not in updated["external_gateway_info"]  # as Neutron shows it

    # Gateway on an internal network: 400.
    internal = core.network()
    core.subnet(internal)
    resp = core.update(ROUTERS, router["id"], "router",
                       external_gateway_info={"network_id": internal["id"]})
    assert_error(resp, 400)

    # The gateway port is a router_gateway port; it inherits the external network's policy.
    gw = ok(api.get(PORTS, params={"device_id": router["id"],
                                   "device_owner": "network:router_gateway"}))["ports"]
    assert len(gw) == 1 and gw[0]["network_id"] == ext["id"]
    # Removing the gateway removes its port.
    updated = ok(core.update(ROUTERS, router["id"], "router", external_gateway_info=None))
    assert updated["router"]["external_gateway_info"] is None
    assert_error(api.get(f"{PORTS}/{gw[0]['id']}"), 404)


# -- default policy ------------------------------------------------------------------------

def test_project_default_policy_on_network_create(api, core, new_policy):
    project = new_project()
    manager = who(project, "manager", "member")
    member_ = who(project, "member")
    default = new_policy(headers=manager, is_default=True)
    other = new_policy(headers=manager)

    gets_default = core.network(headers=member_)
    assert gets_default["qos_policy_id"] == default["id"]
    opted_out = core.network(headers=member_, qos_policy_id=None)
    assert opted_out["qos_policy_id"] is None
    explicit = core.network(headers=member_, qos_policy_id=other["id"])
    assert explicit["qos_policy_id"] == other["id"]
    # An admin creating a network for the project gives it the project's default too.
    by_admin = core.network(project_id=project)
    assert by_admin["qos_policy_id"] == default["id"]
    # ...not the admin's own project's.
    assert core.network()["qos_policy_id"] != default["id"]

    # A new default changes no existing network, only new ones.
    ok(api.put(f"{POLICIES}/{default['id']}", json={"policy": {"is_default": False}},
               headers=manager))
    ok(api.put(f"{POLICIES}/{other['id']}", json={"policy": {"is_default": True}},
               headers=manager))
    assert ok(api.get(f"{NETWORKS}/{gets_default['id']}",
                      headers=member_))["network"]["qos_policy_id"] == default["id"]
    assert ok(api.get(f"{NETWORKS}/{opted_out['id']}",
                      headers=member_))["network"]["qos_policy_id"] is None
    assert core.network(headers=member_)["qos_policy_id"] == other["id"]
    # No default: no policy.
    ok(api.put(f"{POLICIES}/{other['id']}", json={"policy": {"is_default": False}},
               headers=manager))
    assert core.network(headers=member_)["qos_policy_id"] is None


# -- attaching: 404 / 400 -----------------------------------------------------------------

def _attach_targets(core):
    """(description, callable(policy_id) -> response) for every way to attach a policy."""
    net = core.network()
    core.subnet(net)
    port = core.port(net)
    ext, _ = core.external_network()
    fip = core.floatingip(ext)
    router = core.router()
    return [
        ("network create", lambda pid: core.api.post(
            NETWORKS, json={"network": {"qos_policy_id": pid}})),
        ("network update", lambda pid: core.update(NETWORKS, net["id"], "network",
                                                   qos_policy_id=pid)),
        ("port create", lambda pid: core.api.post(
            PORTS, json={"port": {"network_id": net["id"], "qos_policy_id": pid}})),
        ("port update", lambda pid: core.update(PORTS, port["id"], "port", qos_policy_id=pid)),
        ("floatingip create", lambda pid: core.api.post(FLOATINGIPS, json={"floatingip": {
            "floating_network_id": ext["id"], "qos_policy_id": pid}})),
        ("floatingip update", lambda pid: core.update(FLOATINGIPS, fip["id"], "floatingip",
                                                      qos_policy_id=pid)),
        ("router gateway", lambda pid: core.update(ROUTERS, router["id"], "router",
                                                   external_gateway_info={
                                                       "network_id": ext["id"],
                                                       "qos_policy_id": pid})),
    ]


def test_attach_missing_or_malformed_policy(api, core):
    for what, attach in _attach_targets(core):
        missing = str(uuid.uuid4())
        resp = attach(missing)
        assert resp.status_code == 404, (what, resp.text)
        assert_error(resp, 404, "QosPolicyNotFound", missing)
        resp = attach("not-a-uuid")
        assert resp.status_code == 400, (what, resp.text)
        assert "qos_policy_id" in assert_error(resp, 400)["message"], what
        assert attach(12).status_code == 400, what


def test_attach_invisible_policy_is_404(api, core, new_policy):
    owner, caller = new_project(), new_project()
    hidden = new_policy(project_id=owner)
    headers = who(caller, "member")
    net = core.network(headers=headers)
    core.subnet(net, headers=headers)
    port = core.port(net, headers=headers)
    assert_error(core.update(PORTS, port["id"], "port", headers=headers,
                             qos_policy_id=hidden["id"]), 404, "QosPolicyNotFound")
    assert_error(core.update(NETWORKS, net["id"], "network", headers=headers,
                             qos_policy_id=hidden["id"]), 404, "QosPolicyNotFound")
    assert_error(api.post(PORTS, headers=headers, json={"port": {
        "network_id": net["id"], "qos_policy_id": hidden["id"]}}), 404, "QosPolicyNotFound")
    assert_error(api.post(NETWORKS, headers=headers, json={"network": {
        "qos_policy_id": hidden["id"]}}), 404, "QosPolicyNotFound")
    # Nothing changed.
    assert ok(api.get(f"{PORTS}/{port['id']}", headers=headers))["port"]["qos_policy_id"] is None
    # Once shared, any member may attach it to its own port and network.
    ok(api.put(f"{POLICIES}/{hidden['id']}", json={"policy": {"shared": True}}))
    ok(core.update(PORTS, port["id"], "port", headers=headers, qos_policy_id=hidden["id"]))
    ok(core.update(NETWORKS, net["id"], "network", headers=headers,
                   qos_policy_id=hidden["id"]))
    ok(core.update(PORTS, port["id"], "port", headers=headers, qos_policy_id=None))
    ok(core.update(NETWORKS, net["id"], "network", headers=headers, qos_policy_id=None))


def test_detach_invisible_policy_is_403(api, core, new_policy):
    owner, caller = new_project(), new_project()
    private = new_policy(project_id=owner)
    visible = new_policy(project_id=caller)
    headers = who(caller, "member")
    net = core.network(headers=headers)
    port = core.port(net, headers=headers)
    # An admin binds another project's private policy to the caller's port and network.
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=private["id"]))
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=private["id"]))

    for path, obj, root in ((PORTS, port, "port"), (NETWORKS, net, "network")):
        assert_error(core.update(path, obj["id"], root, headers=headers, qos_policy_id=None),
                     403, "PolicyRemoveAuthorizationError", private["id"])
        assert_error(core.update(path, obj["id"], root, headers=headers,
                                 qos_policy_id=visible["id"]), 403)
        # Other changes, and re-stating the same policy, are fine.
        body = ok(core.update(path, obj["id"], root, headers=headers, name="renamed",
                              qos_policy_id=private["id"]))[root]
        assert body["qos_policy_id"] == private["id"] and body["name"] == "renamed"
        # The admin can detach it.
        ok(core.update(path, obj["id"], root, qos_policy_id=None))


# -- deleting / unsharing a policy in use --------------------------------------------------

def test_delete_policy_in_use(api, core, new_policy):
    policy = policy_with(new_policy, bw())
    url = f"{POLICIES}/{policy['id']}"
    net = core.network()
    core.subnet(net)
    ext, _ = core.external_network()

    port = core.port(net, qos_policy_id=policy["id"])
    assert_error(api.delete(url), 409, "QosPolicyInUse",
                 f"QoS Policy {policy['id']} is used by port {port['id']}.")
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=None))

    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=policy["id"]))
    assert_error(api.delete(url), 409, "QosPolicyInUse", f"is used by network {net['id']}.")
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=None))

    fip = core.floatingip(ext, qos_policy_id=policy["id"])
    assert_error(api.delete(url), 409, "QosPolicyInUse", f"is used by floatingip {fip['id']}.")
    ok(core.update(FLOATINGIPS, fip["id"], "floatingip", qos_policy_id=None))

    router = core.router(external_gateway_info={"network_id": ext["id"],
                                                "qos_policy_id": policy["id"]})
    assert_error(api.delete(url), 409, "QosPolicyInUse", f"is used by router {router['id']}.")
    ok(core.update(ROUTERS, router["id"], "router", external_gateway_info=None))

    # Still there, with its rules; now unused, it goes with them.
    assert len(ok(api.get(url))["policy"]["rules"]) == 1
    assert api.delete(url).status_code == 204
    assert_error(api.get(url), 404, "QosPolicyNotFound")


def test_unshare_policy_used_by_another_project(api, core, new_policy):
    owner, user = new_project(), new_project()
    policy = new_policy(project_id=owner, shared=True)
    url = f"{POLICIES}/{policy['id']}"
    headers = who(user, "member")
    net = core.network(headers=headers)
    port = core.port(net, headers=headers, qos_policy_id=policy["id"])

    err = assert_error(api.put(url, json={"policy": {"shared": False}}), 409, "RbacPolicyInUse")
    assert port["id"] in err["message"]
    entries = ok(api.get(RBAC, params={"object_id": policy["id"]}))["rbac_policies"]
    assert len(entries) == 1 and entries[0]["target_tenant"] == "*"
    assert_error(api.delete(f"{RBAC}/{entries[0]['id']}"), 409, "RbacPolicyInUse")
    assert ok(api.get(url))["policy"]["shared"] is True

    # A network of the other project holds it just as well.
    ok(core.update(PORTS, port["id"], "port", headers=headers, qos_policy_id=None))
    ok(core.update(NETWORKS, net["id"], "network", headers=headers, qos_policy_id=policy["id"]))
    err = assert_error(api.put(url, json={"policy": {"shared": False}}), 409, "RbacPolicyInUse")
    assert net["id"] in err["message"]
    assert_error(api.delete(f"{RBAC}/{entries[0]['id']}"), 409, "RbacPolicyInUse")

    # The owner's own use never blocks unsharing.
    own_net = core.network(project_id=owner, qos_policy_id=policy["id"])
    ok(core.update(NETWORKS, net["id"], "network", headers=headers, qos_policy_id=None))
    assert ok(api.put(url, json={"policy": {"shared": False}}))["policy"]["shared"] is False
    assert own_net["qos_policy_id"] == policy["id"]
    assert_error(api.get(url, headers=headers), 404)


def test_targeted_rbac_entry_in_use(api, core, new_policy):
    owner, user = new_project(), new_project()
    policy = new_policy(project_id=owner)
    entry = core.rbac("qos_policy", policy["id"], user)
    assert entry["target_tenant"] == user and entry["object_id"] == policy["id"]
    headers = who(user, "member")
    net = core.network(headers=headers)
    port = core.port(net, headers=headers, qos_policy_id=policy["id"])
    assert_error(api.delete(f"{RBAC}/{entry['id']}"), 409, "RbacPolicyInUse")
    # Retargeting the entry strands the user just the same.
    assert_error(api.put(f"{RBAC}/{entry['id']}",
                         json={"rbac_policy": {"target_tenant": new_project()}}),
                 409, "RbacPolicyInUse")
    # With a wildcard share also in place, the targeted entry can go.
    ok(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"shared": True}}))
    assert api.delete(f"{RBAC}/{entry['id']}").status_code == 204
    # ...but then the wildcard cannot.
    assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"shared": False}}),
                 409, "RbacPolicyInUse")
    ok(core.update(PORTS, port["id"], "port", headers=headers, qos_policy_id=None))
    ok(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"shared": False}}))


# -- the support matrix --------------------------------------------------------------------

def test_sriov_port_accepts_only_egress_bandwidth_limit(api, core, new_policy):
    egress = policy_with(new_policy, bw(10000))
    ingress = policy_with(new_policy, bw(10000, "ingress"))
    burst = policy_with(new_policy, bw(10000, max_burst_kbps=1000))
    dscp = policy_with(new_policy, ("dscp_marking", {"dscp_mark": 26}))
    net = core.network()
    core.subnet(net)
    host = core.host()
    vf = core.port(net, host=host, **{"binding:vnic_type": "direct"},
                   qos_policy_id=egress["id"])
    assert vf["binding:vif_type"] == "hw_veb"

    for policy, what in ((ingress, "bandwidth_limit (ingress)"), (dscp, "dscp_marking"),
                         (burst, "bandwidth_limit")):
        err = assert_error(core.update(PORTS, vf["id"], "port", qos_policy_id=policy["id"]),
                           409, "QosRuleNotSupported")
        assert what in err["message"] and vf["id"] in err["message"], err
    # ...and the port keeps its policy.
    assert ok(api.get(f"{PORTS}/{vf['id']}"))["port"]["qos_policy_id"] == egress["id"]

    # A rule the VF cannot enforce cannot join the policy it uses.
    for rule_type, body, what in (
            ("bandwidth_limit", {"max_kbps": 5000, "direction": "ingress"},
             "bandwidth_limit (ingress)"),
            ("dscp_marking", {"dscp_mark": 46}, "dscp_marking"),
            ("packet_rate_limit", {"max_kpps": 100}, "packet_rate_limit")):
        err = assert_error(api.post(rules_url(egress["id"], rule_type),
                                    json={member(rule_type): body}),
                           409, "QosRuleNotSupported")
        assert what in err["message"] and vf["id"] in err["message"], err
    assert len(ok(api.get(f"{POLICIES}/{egress['id']}"))["policy"]["rules"]) == 1
    # An update onto an unsupported parameter is refused too.
    rule_id = ok(api.get(f"{POLICIES}/{egress['id']}"))["policy"]["rules"][0]["id"]
    assert_error(api.put(rules_url(egress["id"], "bandwidth_limit", rule_id),
                         json={"bandwidth_limit_rule": {"direction": "ingress"}}),
                 409, "QosRuleNotSupported")
    # A VF bound at create with such a policy: refused, and not created.
    before = len(ok(api.get(PORTS, params={"network_id": net["id"]}))["ports"])
    assert_error(api.post(PORTS, json={"port": {
        "network_id": net["id"], "binding:vnic_type": "direct", "binding:host_id": host,
        "qos_policy_id": dscp["id"]}}), 409, "QosRuleNotSupported")
    assert len(ok(api.get(PORTS, params={"network_id": net["id"]}))["ports"]) == before
    # Unbound, as Neutron does, it is accepted: the check belongs to the binding.
    unbound = core.port(net, qos_policy_id=dscp["id"], **{"binding:vnic_type": "direct"})
    assert_error(core.update(PORTS, unbound["id"], "port", **{"binding:host_id": host}),
                 409, "QosRuleNotSupported")
    assert ok(api.get(f"{PORTS}/{unbound['id']}"))["port"]["binding:host_id"] == ""
    # A bound normal port may turn into a VF only if its policy allows it.
    normal = core.port(net, host=host, qos_policy_id=dscp["id"])
    assert_error(core.update(PORTS, normal["id"], "port", **{"binding:vnic_type": "direct"}),
                 409, "QosRuleNotSupported")


def test_sriov_port_and_network_policy(api, core, new_policy):
    dscp = policy_with(new_policy, ("dscp_marking", {"dscp_mark": 26}))
    net = core.network()
    host = core.host()
    vf = core.port(net, host=host, **{"binding:vnic_type": "direct"})
    # The network's policy would govern the bound VF: refused.
    err = assert_error(core.update(NETWORKS, net["id"], "network", qos_policy_id=dscp["id"]),
                       409, "QosRuleNotSupported")
    assert vf["id"] in err["message"]
    assert ok(api.get(f"{NETWORKS}/{net['id']}"))["network"]["qos_policy_id"] is None
    # A VF with its own (supported) policy is not governed by the network's.
    egress = policy_with(new_policy, bw(1000))
    ok(core.update(PORTS, vf["id"], "port", qos_policy_id=egress["id"]))
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=dscp["id"]))
    # Now the network's policy governs new ports: a new VF bound on it is refused.
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "binding:host_id": host,
                                                 "binding:vnic_type": "direct"}}),
                 409, "QosRuleNotSupported")
    # ...and detaching the VF's own policy would expose it to the network's.
    assert_error(core.update(PORTS, vf["id"], "port", qos_policy_id=None),
                 409, "QosRuleNotSupported")


def test_normal_port_accepts_every_rule_type(api, core, new_policy):
    policy = policy_with(new_policy, bw(10000), bw(20000, "ingress", max_burst_kbps=1000),
                         ("dscp_marking", {"dscp_mark": 46}), min_bw(1000),
                         ("packet_rate_limit", {"max_kpps": 100, "direction": "egress"}),
                         ("packet_rate_limit", {"max_kpps": 200, "direction": "ingress"}),
                         ("minimum_packet_rate", {"min_kpps": 10, "direction": "any"}))
    net = core.network()
    core.subnet(net)
    host = core.host()
    port = core.port(net, host=host, qos_policy_id=policy["id"])
    assert port["binding:vif_type"] == "tap"
    entry = host_port(api, host, port["id"])
    assert len(entry["rules"]) == 7
    # Moving to another normal vnic type's backend and back is fine.
    ok(core.update(PORTS, port["id"], "port", **{"binding:vnic_type": "normal"}))
    # The same rules through the network's policy.
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=None))
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=policy["id"]))
    assert len(host_port(api, host, port["id"])["rules"]) == 7


# -- minimum-bandwidth admission -----------------------------------------------------------

def test_minimum_bandwidth_admission(api, core, new_policy):
    host, elsewhere = core.host(), core.host()
    report_agent(api, host, {"eth0": 200000})
    agents = ok(api.get("/v2.0/agents"))["agents"]
    assert any(a["host"] == host and a["uplinks"] == {"eth0": 200000} for a in agents)
    big = policy_with(new_policy, min_bw(150000))
    small = policy_with(new_policy, min_bw(50000))
    net = core.network()
    core.subnet(net)

    first = core.port(net, host=host, qos_policy_id=big["id"])
    second = core.port(net, host=host)
    err = assert_error(core.update(PORTS, second["id"], "port", qos_policy_id=big["id"]),
                       409, "QosPlacementAllocationConflict")
    for text in ("300000", "200000", host, second["id"]):
        assert text in err["message"], err
    assert ok(api.get(f"{PORTS}/{second['id']}"))["port"]["qos_policy_id"] is None
    # Exactly full is fine.
    ok(core.update(PORTS, second["id"], "port", qos_policy_id=small["id"]))
    # A third guarantee does not fit, whether bound on create, by host or via the network.
    err = assert_error(api.post(PORTS, json={"port": {
        "network_id": net["id"], "binding:host_id": host, "qos_policy_id": small["id"]}}),
        409, "QosPlacementAllocationConflict")
    assert "250000" in err["message"]
    third = core.port(net, host=elsewhere, qos_policy_id=small["id"])
    assert_error(core.update(PORTS, third["id"], "port", **{"binding:host_id": host}),
                 409, "QosPlacementAllocationConflict")
    ok(core.update(PORTS, third["id"], "port", qos_policy_id=None))
    ok(core.update(PORTS, third["id"], "port", **{"binding:host_id": host}))
    assert_error(core.update(NETWORKS, net["id"], "network", qos_policy_id=small["id"]),
                 409, "QosPlacementAllocationConflict")
    # Raising a guarantee in a bound policy is checked too.
    rule_id = ok(api.get(f"{POLICIES}/{small['id']}"))["policy"]["rules"][0]["id"]
    err = assert_error(api.put(rules_url(small["id"], "minimum_bandwidth", rule_id),
                               json={"minimum_bandwidth_rule": {"min_kbps": 50001}}),
                       409, "QosPlacementAllocationConflict")
    assert "200001" in err["message"]
    # Other hosts (capacity unknown) admit anything.
    core.port(net, host=elsewhere, qos_policy_id=big["id"])
    core.port(net, host=elsewhere, qos_policy_id=big["id"])
    # Freeing capacity makes room.
    ok(core.update(PORTS, first["id"], "port", qos_policy_id=None))
    ok(core.update(PORTS, third["id"], "port", qos_policy_id=big["id"]))


# -- revisions -----------------------------------------------------------------------------

class Revisions:
    """Asserts that a change raised (or left alone) a host's revision and a port's."""

    def __init__(self, api, host):
        self.api, self.host = api, host
        self.last = host_revision(api, host)

    def port(self, port_id):
        return host_port(self.api, self.host, port_id)

    def raised(self, port_id=None):
        now = host_revision(self.api, self.host)
        assert now > self.last, (now, self.last)
        self.last = now
        doc = host_ports(self.api, self.host)
        assert doc["revision"] == now
        if port_id:
            entry = next(p for p in doc["ports"] if p["port_id"] == port_id)
            assert entry["revision"] == now, (entry, now)
            return entry
        return None

    def unchanged(self):
        assert host_revision(self.api, self.host) == self.last


def test_revisions_follow_every_qos_change(api, core, new_policy):
    policy = policy_with(new_policy, bw(1000))
    other = policy_with(new_policy, bw(2000))
    net = core.network()
    core.subnet(net)
    host, host2 = core.host(), core.host()
    assert host_revision(api, host) == 0
    assert host_ports(api, host) == {"host": host, "revision": 0, "ports": []}
    rev = Revisions(api, host)

    port = core.port(net, host=host)
    assert rev.raised(port["id"])["policy_id"] is None
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=policy["id"]))
    assert rev.raised(port["id"])["policy_id"] == policy["id"]
    ok(core.update(PORTS, port["id"], "port", name="no qos change"))
    rev.unchanged()

    rule = new_policy.rule(policy["id"], "dscp_marking", dscp_mark=10)
    assert len(rev.raised(port["id"])["rules"]) == 2
    ok(api.put(rules_url(policy["id"], "dscp_marking", rule["id"]),
               json={"dscp_marking_rule": {"dscp_mark": 12}}))
    entry = rev.raised(port["id"])
    assert {"type": "dscp_marking", "dscp_mark": 12} in entry["rules"]
    assert api.delete(rules_url(policy["id"], "dscp_marking", rule["id"])).status_code == 204
    assert len(rev.raised(port["id"])["rules"]) == 1
    # A rule added to a policy nobody on this host uses changes nothing here.
    new_policy.rule(other["id"], "dscp_marking", dscp_mark=10)
    rev.unchanged()

    # Through the network.
    ok(core.update(PORTS, port["id"], "port", qos_policy_id=None))
    assert rev.raised(port["id"])["policy_id"] is None
    ok(core.update(NETWORKS, net["id"], "network", qos_policy_id=other["id"]))
    assert rev.raised(port["id"])["policy_id"] == other["id"]
    ok(core.update(NETWORKS, net["id"], "network", name="renamed"))
    rev.unchanged()

    # Administratively down: the agent holds the link down and the QoS stays (nothing
    # removed that would let traffic pass unshaped).
    ok(core.update(PORTS, port["id"], "port", admin_state_up=False))
    entry = rev.raised(port["id"])
    assert entry["admin_state_up"] is False and entry["rules"]
    ok(core.update(PORTS, port["id"], "port", admin_state_up=True))
    entry = rev.raised(port["id"])
    assert entry["admin_state_up"] is True and entry["rules"]

    # Moving to another host raises both hosts.
    rev2 = Revisions(api, host2)
    ok(core.update(PORTS, port["id"], "port", **{"binding:host_id": host2}))
    rev.raised()
    assert host_ports(api, host)["ports"] == []
    rev2.raised(port["id"])
    ok(core.update(PORTS, port["id"], "port", **{"binding:host_id": host}))
    rev.raised(port["id"])
    rev2.raised()

    # Deleting the port.
    assert api.delete(f"{PORTS}/{port['id']}").status_code == 204
    rev.raised()
    assert host_ports(api, host)["ports"] == []


def test_host_endpoints_are_admin_only(api, core):
    host = core.host()
    headers = who(new_project(), "member", "manager")
    assert_error(api.get(f"/v2.0/netqos/hosts/{host}/ports", headers=headers), 403)
    assert_error(api.get(f"/v2.0/netqos/hosts/{host}/revision", headers=headers), 403)
    assert_error(api.post(f"/v2.0/netqos/hosts/{host}/report", headers=headers,
                          json={"report": {"ports": []}}), 403)


# -- routers, floating IPs, IPAM -----------------------------------------------------------

def test_router_interfaces(api, core):
    net = core.network()
    subnet = core.subnet(net)
    net2 = core.network()
    subnet2 = core.subnet(net2)
    router = core.router()

    info = core.add_interface(router, subnet_id=subnet["id"])
    assert info["id"] == router["id"] and info["subnet_id"] == subnet["id"]
    assert info["network_id"] == net["id"]
    iface = ok(api.get(f"{PORTS}/{info['port_id']}"))["port"]
    assert iface["device_owner"] == "network:router_interface"
    assert iface["device_id"] == router["id"]
    assert iface["fixed_ips"] == [{"subnet_id": subnet["id"],
                                   "ip_address": subnet["gateway_ip"]}]

    # By port.
    port = core.port(net2)
    info2 = core.add_interface(router, port_id=port["id"])
    assert info2["port_id"] == port["id"] and info2["subnet_id"] == subnet2["id"]
    port = ok(api.get(f"{PORTS}/{port['id']}"))["port"]
    assert port["device_owner"] == "network:router_interface"
    assert port["device_id"] == router["id"]

    # In use: the router, its interface ports, their subnets and networks.
    assert_error(api.delete(f"{ROUTERS}/{router['id']}"), 409, "RouterInUse")
    assert_error(api.delete(f"{PORTS}/{iface['id']}"), 409, "ServicePortInUse")
    assert_error(api.delete(f"{SUBNETS}/{subnet['id']}"), 409, "SubnetInUse")
    assert_error(api.delete(f"{NETWORKS}/{net['id']}"), 409, "NetworkInUse")

    # Bad requests and missing interfaces.
    url = f"{ROUTERS}/{router['id']}"
    assert_error(api.put(url + "/add_router_interface", json={}), 400)
    assert_error(api.put(url + "/add_router_interface",
                         json={"subnet_id": subnet["id"], "port_id": port["id"]}), 400)
    assert_error(api.put(url + "/add_router_interface", json={"subnet_id": str(uuid.uuid4())}),
                 404)
    assert_error(api.put(url + "/remove_router_interface", json={"port_id": str(uuid.uuid4())}),
                 404, "RouterInterfaceNotFound")
    other = core.network()
    other_subnet = core.subnet(other)
    assert_error(api.put(url + "/remove_router_interface",
                         json={"subnet_id": other_subnet["id"]}),
                 404, "RouterInterfaceNotFoundForSubnet")
    assert_error(api.put(f"{ROUTERS}/{uuid.uuid4()}/add_router_interface",
                         json={"subnet_id": subnet["id"]}), 404, "RouterNotFound")

    removed = ok(api.put(url + "/remove_router_interface", json={"subnet_id": subnet["id"]}))
    assert removed["port_id"] == iface["id"] and removed["subnet_id"] == subnet["id"]
    assert_error(api.get(f"{PORTS}/{iface['id']}"), 404)
    removed = ok(api.put(url + "/remove_router_interface", json={"port_id": port["id"]}))
    assert removed["port_id"] == port["id"]
    ports = ok(api.get(PORTS, params={"device_id": router["id"]}))["ports"]
    assert ports == []
    assert api.delete(url).status_code == 204
    assert_error(api.get(url), 404, "RouterNotFound")


def test_floating_ip_association_finds_the_router(api, core, new_policy):
    ext, _ = core.external_network()
    net = core.network()
    subnet = core.subnet(net)
    port = core.port(net)
    fixed = port["fixed_ips"][0]["ip_address"]

    # No router reaches the port's subnet yet: 404.
    fip = core.floatingip(ext)
    assert fip["router_id"] is None and fip["port_id"] is None and fip["status"] == "DOWN"
    assert_error(core.update(FLOATINGIPS, fip["id"], "floatingip", port_id=port["id"]),
                 404, "ExternalGatewayForFloatingIPNotFound")
    # A router on the subnet but without a gateway does not do either.
    decoy = core.router()
    core.add_interface(decoy, subnet_id=subnet["id"])
    assert_error(core.update(FLOATINGIPS, fip["id"], "floatingip", port_id=port["id"]),
                 404, "ExternalGatewayForFloatingIPNotFound")

    net2 = core.network()
    subnet2 = core.subnet(net2)
    port2 = core.port(net2)
    router = core.router(external_gateway_info={"network_id": ext["id"]})
    core.add_interface(router, subnet_id=subnet2["id"])
    fip = ok(core.update(FLOATINGIPS, fip["id"], "floatingip",
                         port_id=port2["id"]))["floatingip"]
    assert fip["router_id"] == router["id"] and fip["port_id"] == port2["id"]
    assert fip["fixed_ip_address"] == port2["fixed_ips"][0]["ip_address"]
    assert fip["status"] == "ACTIVE"
    # A fixed IP the port does not have: 400.
    assert_error(core.update(FLOATINGIPS, fip["id"], "floatingip", port_id=port2["id"],
                             fixed_ip_address=fixed), 400)
    # The gateway cannot go while a floating IP uses it.
    assert_error(core.update(ROUTERS, router["id"], "router", external_gateway_info=None),
                 409, "RouterInUse")
    # Created already associated.
    fip2 = core.floatingip(ext, port_id=port2["id"])
    assert fip2["router_id"] == router["id"]

    # Disassociation clears the router.
    fip = ok(core.update(FLOATINGIPS, fip["id"], "floatingip", port_id=None))["floatingip"]
    assert fip["router_id"] is None and fip["fixed_ip_address"] is None
    # Deleting the port disassociates the floating IP.
    assert api.delete(f"{PORTS}/{port2['id']}").status_code == 204
    fip2 = ok(api.get(f"{FLOATINGIPS}/{fip2['id']}"))["floatingip"]
    assert fip2["port_id"] is None and fip2["router_id"] is None
    # The floating IP's own port is not for the port API, and it goes with the floating IP.
    fport = ok(api.get(PORTS, params={"device_id": fip["id"]}))["ports"]
    assert len(fport) == 1 and fport[0]["device_owner"] == "network:floatingip"
    assert fport[0]["fixed_ips"][0]["ip_address"] == fip["floating_ip_address"]
    assert api.delete(f"{FLOATINGIPS}/{fip['id']}").status_code == 204
    assert_error(api.get(f"{PORTS}/{fport[0]['id']}"), 404)
    assert_error(api.get(f"{FLOATINGIPS}/{fip['id']}"), 404, "FloatingIPNotFound")
    # Floating IPs come only from external networks.
    assert_error(api.post(FLOATINGIPS, json={"floatingip": {"floating_network_id": net["id"]}}),
                 400)


def test_service_ports_cannot_be_deleted_directly(api, core):
    ext, _ = core.external_network()
    router = core.router(external_gateway_info={"network_id": ext["id"]})
    fip = core.floatingip(ext)
    gw = ok(api.get(PORTS, params={"device_id": router["id"]}))["ports"]
    fport = ok(api.get(PORTS, params={"device_id": fip["id"]}))["ports"]
    assert [p["device_owner"] for p in gw] == ["network:router_gateway"]
    assert [p["device_owner"] for p in fport] == ["network:floatingip"]
    for port in (gw[0], fport[0]):
        assert_error(api.delete(f"{PORTS}/{port['id']}"), 409, "ServicePortInUse")
    # The external network is in use while they exist.
    assert_error(api.delete(f"{NETWORKS}/{ext['id']}"), 409, "NetworkInUse")


def test_ipam_hands_out_distinct_addresses(api, core):
    net = core.network()
    subnet = core.subnet(net, cidr="198.18.250.0/29")  # .1 gateway, .2-.6 to hand out
    assert subnet["gateway_ip"] == "198.18.250.1"
    assert subnet["allocation_pools"] == [{"start": "198.18.250.2", "end": "198.18.250.6"}]
    addresses = [core.port(net)["fixed_ips"][0]["ip_address"] for _ in range(4)]
    assert len(set(addresses)) == 4
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network(subnet["cidr"])
               for a in addresses)
    assert subnet["gateway_ip"] not in addresses
    taken = addresses[0]
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": taken}]}}), 409, "IpAddressAlreadyAllocated")
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "198.18.251.9"}]}}), 400)
    last = core.port(net)["fixed_ips"][0]["ip_address"]
    assert last not in addresses
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"]}}), 409,
                 "IpAddressGenerationFailure")
    # A freed address is handed out again.
    victim = ok(api.get(PORTS, params={"network_id": net["id"]}))["ports"][0]
    assert api.delete(f"{PORTS}/{victim['id']}").status_code == 204
    again = core.port(net)["fixed_ips"][0]["ip_address"]
    assert again == victim["fixed_ips"][0]["ip_address"]


def test_ipam_dual_stack(api, core):
    net = core.network()
    v4 = core.subnet(net)
    v6 = core.subnet(net, ip_version=6)
    ports = [core.port(net) for _ in range(3)]
    seen = set()
    for port in ports:
        by_subnet = {a["subnet_id"]: a["ip_address"] for a in port["fixed_ips"]}
        assert set(by_subnet) == {v4["id"], v6["id"]}
        assert ipaddress.ip_address(by_subnet[v4["id"]]).version == 4
        assert ipaddress.ip_address(by_subnet[v6["id"]]) in ipaddress.ip_network(v6["cidr"])
        seen |= set(by_subnet.values())
    assert len(seen) == 6
    # A chosen address.
    chosen = str(ipaddress.ip_network(v6["cidr"])[100])
    port = core.port(net, fixed_ips=[{"ip_address": chosen}])
    assert port["fixed_ips"] == [{"subnet_id": v6["id"], "ip_address": chosen}]
    assert set(ok(api.get(f"{NETWORKS}/{net['id']}"))["network"]["subnets"]) == {v4["id"],
                                                                                v6["id"]}
    assert_error(api.post(SUBNETS, json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                    "cidr": next_v6()}}), 400)
    assert_error(api.post(SUBNETS, json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                    "cidr": next_v4(),
                                                    "gateway_ip": "203.0.113.1"}}), 400)
