"""End to end with the real, unmodified openstacksdk (auth_type none, as against Neutron in
noauth mode): a network with a subnet, a router with an external gateway, ports and a
floating IP; a QoS policy bound to each; the effective policies as the host agent pulls
them; deletions refused while in use; then everything removed again."""
from __future__ import annotations

import uuid

import httpx
import pytest

openstack = pytest.importorskip("openstack")
from openstack import exceptions  # noqa: E402

from tests.api.helpers_core import next_v4  # noqa: E402


@pytest.fixture
def agent_api(api_server):
    with httpx.Client(base_url=api_server.url, timeout=10) as client:
        yield client


def _conflict(call, *args, **kwargs) -> str:
    with pytest.raises(exceptions.ConflictException) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_network_router_port_floating_ip_with_qos(conn, agent_api):
    net_api = conn.network
    tag = uuid.uuid4().hex[:8]
    host = f"sdk-host-{tag}"
    made: list = []  # (kind, resource), for cleanup if an assertion fails midway

    def policy(name, **rule):
        p = net_api.create_qos_policy(name=f"sdk-{name}-{tag}")
        made.append(("qos_policy", p))
        net_api.create_qos_bandwidth_limit_rule(p, **rule)
        return p

    try:
        p_net = policy("net", max_kbps=10000)
        p_port = policy("port", max_kbps=20000, direction="ingress")
        net_api.create_qos_dscp_marking_rule(p_port, dscp_mark=26)
        p_fip = policy("fip", max_kbps=30000)
        p_gw = policy("gw", max_kbps=40000)

        ext = net_api.create_network(name=f"sdk-ext-{tag}", is_router_external=True)
        made.append(("network", ext))
        ext_sub = net_api.create_subnet(network_id=ext.id, ip_version=4,
                                        cidr=next_v4(external=True), name=f"sdk-ext-{tag}")
        made.append(("subnet", ext_sub))
        net = net_api.create_network(name=f"sdk-net-{tag}", qos_policy_id=p_net.id)
        made.append(("network", net))
        assert net.qos_policy_id == p_net.id
        sub = net_api.create_subnet(network_id=net.id, ip_version=4, cidr=next_v4(),
                                    name=f"sdk-sub-{tag}")
        made.append(("subnet", sub))
        assert net_api.get_network(net.id).subnet_ids == [sub.id]

        router = net_api.create_router(name=f"sdk-router-{tag}", external_gateway_info={
            "network_id": ext.id, "qos_policy_id": p_gw.id})
        made.append(("router", router))
        assert router.external_gateway_info["network_id"] == ext.id
        assert router.external_gateway_info["qos_policy_id"] == p_gw.id
        gw_ip = router.external_gateway_info["external_fixed_ips"][0]
        assert gw_ip["subnet_id"] == ext_sub.id
        iface = net_api.add_interface_to_router(router, subnet_id=sub.id)
        assert iface["subnet_id"] == sub.id and iface["port_id"]

        vm_port = net_api.create_port(network_id=net.id, name=f"sdk-vm-{tag}",
                                      binding_host_id=host, qos_policy_id=p_port.id)
        made.append(("port", vm_port))
        plain_port = net_api.create_port(network_id=net.id, name=f"sdk-plain-{tag}",
                                         binding_host_id=host)
        made.append(("port", plain_port))
        assert vm_port.qos_policy_id == p_port.id
        assert vm_port.qos_network_policy_id == p_net.id
        assert plain_port.qos_policy_id is None
        assert plain_port.qos_network_policy_id == p_net.id
        assert vm_port.binding_host_id == host
        ips = {vm_port.fixed_ips[0]["ip_address"], plain_port.fixed_ips[0]["ip_address"],
               sub.gateway_ip}
        assert len(ips) == 3

        fip = net_api.create_ip(floating_network_id=ext.id, port_id=vm_port.id,
                                qos_policy_id=p_fip.id)
        made.append(("ip", fip))
        assert fip.router_id == router.id
        assert fip.fixed_ip_address == vm_port.fixed_ips[0]["ip_address"]
        assert fip.qos_policy_id == p_fip.id
        assert fip.floating_ip_address != gw_ip["ip_address"]

        # Lists by policy, as a client finds what uses a policy.
        assert [p.id for p in net_api.ports(qos_policy_id=p_port.id)] == [vm_port.id]
        assert [n.id for n in net_api.networks(qos_policy_id=p_net.id)] == [net.id]
        assert [f.id for f in net_api.ips(qos_policy_id=p_fip.id)] == [fip.id]

        # What the host's agent pulls: each port's effective policy and its rules.
        doc = agent_api.get(f"/v2.0/netqos/hosts/{host}/ports").json()
        effective = {p["port_id"]: p for p in doc["ports"]}
        assert set(effective) == {vm_port.id, plain_port.id}
        assert effective[vm_port.id]["policy_id"] == p_port.id
        assert sorted(r["type"] for r in effective[vm_port.id]["rules"]) == [
            "bandwidth_limit", "dscp_marking"]
        assert effective[plain_port.id]["policy_id"] == p_net.id
        assert effective[plain_port.id]["rules"][0]["max_kbps"] == 10000
        rev = doc["revision"]
        # A rule change reaches the port that inherits it, with a new revision.
        rule = net_api.qos_bandwidth_limit_rules(p_net).__next__()
        net_api.update_qos_bandwidth_limit_rule(rule, p_net, max_kbps=15000)
        doc = agent_api.get(f"/v2.0/netqos/hosts/{host}/ports").json()
        entry = next(p for p in doc["ports"] if p["port_id"] == plain_port.id)
        assert doc["revision"] > rev and entry["revision"] == doc["revision"]
        assert entry["rules"][0]["max_kbps"] == 15000

        # Every policy is in use: none can be deleted.
        for p, user in ((p_port, f"port {vm_port.id}"), (p_net, f"network {net.id}"),
                        (p_fip, f"floatingip {fip.id}"), (p_gw, f"router {router.id}")):
            assert user in _conflict(net_api.delete_qos_policy, p)
        # Nor the network, subnet, router or its interface port while they are used.
        _conflict(net_api.delete_network, net)
        _conflict(net_api.delete_subnet, sub)
        _conflict(net_api.delete_router, router)
        _conflict(net_api.delete_port, iface["port_id"])
        _conflict(net_api.update_router, router, external_gateway_info=None)

        # Unbinding and taking apart, in order.
        fip = net_api.update_ip(fip, port_id=None, qos_policy_id=None)
        assert fip.router_id is None and fip.port_id is None and fip.qos_policy_id is None
        net_api.delete_ip(fip)
        net_api.delete_qos_policy(p_fip)
        vm_port = net_api.update_port(vm_port, qos_policy_id=None)
        assert vm_port.qos_policy_id is None
        net_api.delete_qos_policy(p_port)
        net_api.delete_port(vm_port)
        net_api.delete_port(plain_port)
        net_api.remove_interface_from_router(router, subnet_id=sub.id)
        router = net_api.update_router(router, external_gateway_info={
            "network_id": ext.id, "qos_policy_id": None})
        assert router.external_gateway_info.get("qos_policy_id") is None  # absent, as Neutron
        net_api.delete_qos_policy(p_gw)
        net_api.delete_router(router)
        net = net_api.update_network(net, qos_policy_id=None)
        assert net.qos_policy_id is None
        net_api.delete_qos_policy(p_net)
        for subnet in (sub, ext_sub):
            net_api.delete_subnet(subnet)
        for network in (net, ext):
            net_api.delete_network(network)

        # Nothing is left.
        for kind, res in made:
            assert getattr(net_api, f"find_{kind}")(res.id, ignore_missing=True) is None, \
                (kind, res.id)
        assert agent_api.get(f"/v2.0/netqos/hosts/{host}/ports").json()["ports"] == []
        assert list(net_api.ports(device_id=router.id)) == []
        made.clear()
    finally:
        _cleanup(net_api, made)


def _cleanup(net_api, made) -> None:
    """After a failure: remove what is left, quietly, in dependency order."""
    order = ("ip", "router", "port", "subnet", "network", "qos_policy")
    for kind in order:
        for k, res in made:
            if k != kind:
                continue
            try:
                if kind == "router":
                    for p in net_api.ports(device_id=res.id,
                                           device_owner="network:router_interface"):
                        net_api.remove_interface_from_router(res, port_id=p.id)
                if kind == "network":
                    for p in net_api.ports(network_id=res.id):
                        net_api.delete_port(p, ignore_missing=True)
                getattr(net_api, f"delete_{kind}")(res, ignore_missing=True)
            except exceptions.SDKException:
                pass
