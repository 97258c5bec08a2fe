"""Neutron extensions on ports and floating IPs: each port's `resource_request`
(port-resource-request-groups: the placement request groups Nova reads, from the port's
effective policy, network segment and vnic type) and a floating IP's `port_details`."""
from __future__ import annotations

import uuid

from tests.api.conftest import who
from tests.api.helpers_core import PORTS, core, ok, unique

__all__ = ["core"]  # the fixture, imported for pytest


def policy_with(new_policy, *rules):
    policy = new_policy()
    made = [new_policy.rule(policy["id"], rule_type, **values) for rule_type, values in rules]
    return policy, made


def group_id(port_id: str, *rules) -> str:
    return str(uuid.uuid5(uuid.UUID(port_id), ":".join(sorted(r["id"] for r in rules))))


def test_extension_is_listed(api):
    aliases = {e["alias"] for e in ok(api.get("/v2.0/extensions"))["extensions"]}
    assert {"port-resource-request", "port-resource-request-groups", "provider"} <= aliases


def test_bandwidth_and_packet_rate_groups_on_a_tunnelled_network(api, core, new_policy):
    policy, (bw_e, bw_i, pps) = policy_with(
        new_policy, ("minimum_bandwidth", {"min_kbps": 1500}),
        ("minimum_bandwidth", {"min_kbps": 2000, "direction": "ingress"}),
        ("minimum_packet_rate", {"min_kpps": 300, "direction": "any"}))
    new_policy.rule(policy["id"], "bandwidth_limit", max_kbps=9000)  # asks for nothing
    net = core.network(qos_policy_id=policy["id"])   # a VXLAN tenant network
    port = core.port(net)
    bw_group, pps_group = group_id(port["id"], bw_e, bw_i), group_id(port["id"], pps)
    assert port["resource_request"] == {
        "request_groups": [
            {"id": bw_group, "required": ["CUSTOM_NETWORK_TUNNEL_PROVIDER",
                                          "CUSTOM_VNIC_TYPE_NORMAL"],
             "resources": {"NET_BW_EGR_KILOBIT_PER_SEC": 1500,
                           "NET_BW_IGR_KILOBIT_PER_SEC": 2000}},
            {"id": pps_group, "required": ["CUSTOM_VNIC_TYPE_NORMAL"],
             "resources": {"NET_PACKET_RATE_KILOPACKET_PER_SEC": 300}}],
        "same_subtree": [bw_group, pps_group]}
    # Stable across reads, in lists too.
    listed = ok(api.get(PORTS, params={"id": port["id"]}))["ports"][0]
    assert listed["resource_request"] == port["resource_request"]


def test_physnet_and_vnic_type_traits(api, core, new_policy):
    policy, (rule,) = policy_with(new_policy, ("minimum_bandwidth", {"min_kbps": 100}))
    physnet = "phys-" + uuid.uuid4().hex[:6]
    net = core.network(**{"provider:network_type": "flat",
                          "provider:physical_network": physnet})
    port = core.port(net, qos_policy_id=policy["id"], **{"binding:vnic_type": "direct"})
    (group,) = port["resource_request"]["request_groups"]
    assert group["required"] == [f"CUSTOM_PHYSNET_{physnet.upper().replace('-', '_')}",
                                 "CUSTOM_VNIC_TYPE_DIRECT"]
    assert group["resources"] == {"NET_BW_EGR_KILOBIT_PER_SEC": 100}


def test_no_guarantee_no_request_and_only_admins_see_it(api, core, new_policy):
    limit_only, _ = policy_with(new_policy, ("bandwidth_limit", {"max_kbps": 1000}))
    net = core.network()
    assert core.port(net)["resource_request"] is None
    assert core.port(net, qos_policy_id=limit_only["id"])["resource_request"] is None
    guaranteed, _ = policy_with(new_policy, ("minimum_packet_rate", {"min_kpps": 5}))
    # The network's policy counts when the port has none of its own.
    project = "p" + uuid.uuid4().hex[:12]
    owned = core.network(project_id=project, qos_policy_id=guaranteed["id"])
    member = who(project, "member")
    port = core.port(owned, headers=member, name=unique("p"))
    assert "resource_request" not in port
    shown = ok(api.get(f"{PORTS}/{port['id']}"))["port"]
    assert shown["resource_request"]["request_groups"][0]["resources"] == {
        "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC": 5}


def test_floating_ip_port_details(api, core):
    """Neutron's fip-port-details: what an associated floating IP points at."""
    ext, _ = core.external_network()
    net = core.network()
    sub = core.subnet(net)
    router = core.router(external_gateway_info={"network_id": ext["id"]})
    core.add_interface(router, subnet_id=sub["id"])
    port = core.port(net, name="vm-port")
    fip = core.floatingip(ext, port_id=port["id"])
    assert fip["port_details"] == {
        "name": "vm-port", "network_id": net["id"], "mac_address": port["mac_address"],
        "admin_state_up": True, "status": "DOWN", "device_id": "", "device_owner": ""}
    assert ok(api.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["port_details"] == \
        fip["port_details"]
    loose = core.floatingip(ext)
    assert loose["port_details"] is None
