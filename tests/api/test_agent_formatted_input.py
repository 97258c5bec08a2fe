"""The exploit payloads of issue 12, and the other values an agent formats into root's text
(tc/ip/nft/OpenFlow lines, sysfs paths): refused at the API with Neutron's 400 (or 403),
or stored in their one canonical spelling. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import ipaddress

import pytest

from tests.api.conftest import assert_error, new_project, who
from tests.api.helpers_core import FLOATINGIPS, PORTS, ROUTERS, SUBNETS, core, next_v6, ok

__all__ = ["core"]  # the fixture, imported for pytest

SCOPE_EXPLOIT = "2001:db8:1::99%\nqdisc del dev qg-x root\nx"


def _member_on_shared_net(core):
    project = new_project()
    net = core.network(shared=True)
    core.subnet(net)
    return who(project, "member"), net


def _external_v6(core):
    net = core.network(**{"router:external": True})
    subnet = core.subnet(net, ip_version=6, cidr="2001:db8:1::/64")
    return net, subnet


# -- router gateway: the IPv6 scope-id exploit -----------------------------------------

@pytest.mark.parametrize("ip", [SCOPE_EXPLOIT, "2001:db8:1::99%0", "2001:db8:1::99%eth0",
                                "2001:db8:1::99\n", " 2001:db8:1::99"])
def test_gateway_scope_id_refused_for_admin(api, core, ip):
    net, subnet = _external_v6(core)
    body = {"network_id": net["id"],
            "external_fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}]}
    err = assert_error(api.post(ROUTERS, json={"router": {"external_gateway_info": body}}),
                       400, "HTTPBadRequest", "is not a valid IP address")
    assert "external_fixed_ips" in err["message"]


def test_gateway_external_fixed_ips_admin_only(api, core):
    net, subnet = _external_v6(core)
    member = who(new_project(), "member")
    body = {"network_id": net["id"],
            "external_fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "2001:db8:1::99"}]}
    assert_error(api.post(ROUTERS, json={"router": {"external_gateway_info": body}},
                          headers=member), 403, "PolicyNotAuthorized",
                 "create_router:external_gateway_info:external_fixed_ips")
    # Present but empty is still a choice of addresses.
    body["external_fixed_ips"] = []
    assert_error(api.post(ROUTERS, json={"router": {"external_gateway_info": body}},
                          headers=member), 403, "PolicyNotAuthorized")
    router = core.router(headers=member)
    assert_error(core.update(ROUTERS, router["id"], "router", headers=member,
                             external_gateway_info=body), 403, "PolicyNotAuthorized",
                 "update_router:external_gateway_info:external_fixed_ips")
    # Without external_fixed_ips a member may set its gateway (Neutron's default).
    del body["external_fixed_ips"]
    shown = ok(core.update(ROUTERS, router["id"], "router", headers=member,
                           external_gateway_info=body))["router"]
    assert shown["external_gateway_info"]["network_id"] == net["id"]


def test_gateway_address_stored_canonical_and_unique(api, core):
    net, subnet = _external_v6(core)
    first = core.router(external_gateway_info={
        "network_id": net["id"],
        "external_fixed_ips": [{"subnet_id": subnet["id"],
                                "ip_address": "2001:DB8:1:0:0:0:0:99"}]})
    ips = first["external_gateway_info"]["external_fixed_ips"]
    assert [ip["ip_address"] for ip in ips] == ["2001:db8:1::99"]
    # The same address, spelt differently, is the same address.
    for spelling in ("2001:db8:1::99", "2001:0db8:0001::0099"):
        resp = api.post(ROUTERS, json={"router": {"external_gateway_info": {
            "network_id": net["id"],
            "external_fixed_ips": [{"subnet_id": subnet["id"], "ip_address": spelling}]}}})
        assert_error(resp, 409, contains="already allocated")


# -- ports: MACs, addresses, device fields, profile ------------------------------------

@pytest.mark.parametrize("mac", ["fa:16:3e:00:00:01\n", "fa:16:3e:00:00:01\nx",
                                 "fa:16:3e:00:00:0", "fa:16:3e:00:00:001", "fa16.3e00.0001",
                                 "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "fa:16:3e:00-00:01",
                                 " fa:16:3e:00:00:01", 42, None])
def test_bad_mac_refused(api, core, mac):
    net = core.network()
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "mac_address": mac}}),
                 400, "HTTPBadRequest", "mac_address")


@pytest.mark.parametrize("mac,stored", [("FA:16:3E:0A:0B:0C", "fa:16:3e:0a:0b:0c"),
                                        ("fa-16-3e-0a-0b-0d", "fa:16:3e:0a:0b:0d")])
def test_mac_stored_canonical(core, mac, stored):
    port = core.port(core.network(), mac_address=mac)
    assert port["mac_address"] == stored


def test_mac_unique_whatever_its_case(api, core):
    net = core.network()
    core.port(net, mac_address="fa:16:3e:aa:bb:cc")
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"],
                                                "mac_address": "FA:16:3E:AA:BB:CC"}}),
                 409, "MacAddressInUse")


@pytest.mark.parametrize("ip", ["198.18.0.5%0", "198.18.0.5\n", "198.018.0.5", "198.18.5",
                                "::ffff:198.18.0.5%1", "1" * 59, "198.18.0.5/32"])
def test_bad_fixed_ip_refused(api, core, ip):
    net = core.network()
    subnet = core.subnet(net)
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": ip}]}}), 400, "HTTPBadRequest", "fixed_ips")


def test_fixed_ip_scope_id_does_not_bypass_uniqueness(api, core):
    net = core.network()
    subnet = core.subnet(net, ip_version=6, cidr=next_v6())
    prefix = subnet["cidr"].split("/")[0]
    core.port(net, fixed_ips=[{"subnet_id": subnet["id"], "ip_address": prefix + "99"}])
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": prefix + "99%0"}]}}), 400)
    expanded = ipaddress.ip_address(prefix + "99").exploded.upper()
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": expanded}]}}), 409, "IpAddressAlreadyAllocated")


def test_fixed_ip_outside_network(api, core):
    net = core.network()
    core.subnet(net, cidr="198.18.250.0/24")
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.9.9.9"}]}}), 400, "InvalidIpForNetwork",
        "is not a valid IP for any of the subnets")


@pytest.mark.parametrize("ip", ["198.18.251.0", "198.18.251.255"])
def test_network_and_broadcast_are_not_port_addresses(api, core, ip):
    net = core.network()
    subnet = core.subnet(net, cidr="198.18.251.0/24")
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": ip}]}}), 400, "InvalidIpForSubnet")


@pytest.mark.parametrize("attr", ["device_owner", "device_id"])
@pytest.mark.parametrize("value", ["compute:nova\nx", "a\rb", "a\x00b", "a\x1bb", "a\u2028b"])
def test_device_fields_without_control_characters(api, core, attr, value):
    net = core.network()
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], attr: value}}),
                 400, "HTTPBadRequest", attr)
    port = core.port(net)
    assert_error(core.update(PORTS, port["id"], "port", **{attr: value}), 400)


@pytest.mark.parametrize("host", ["host\nx", "host x", "../etc", "h/st", "-host", "h" * 256,
                                  7])
def test_bad_host_id_refused(api, core, host):
    net = core.network()
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"],
                                                "binding:host_id": host}}),
                 400, "HTTPBadRequest", "binding:host_id")


@pytest.mark.parametrize("profile,where", [
    ({"pci_slot": "0000:05:00.1\n"}, "pci_slot"),
    ({"pci_slot": "0000:05:00"}, "pci_slot"),
    ({"pci_slot": "../../../../dev/sda"}, "pci_slot"),
    ({"physical_network": "phys net"}, "physical_network"),
    ({"physical_network": "physnet1\n"}, "physical_network"),
    ({"device": "tap0\nqdisc del dev eth0 root"}, "device"),
    ({"device": "a" * 16}, "device"),
    ({"device": "../x"}, "device"),
    ({"trusted": "x\ny"}, "trusted"),
    ({"bad key": 1}, "bad key"),
    ({"nested": {"a": {"b": {"c": {"d": 1}}}}}, "nested"),
    ([], "binding:profile"),
])
def test_bad_binding_profile_refused(api, core, profile, where):
    net = core.network()
    err = assert_error(api.post(PORTS, json={"port": {"network_id": net["id"],
                                                      "binding:profile": profile}}), 400)
    assert where in err["message"], err


def test_binding_profile_good_values_kept(core):
    profile = {"pci_slot": "0000:AF:00.7", "physical_network": "physnet-1",
               "device": "ens1f0v3", "pci_vendor_info": "8086:10ed",
               "capabilities": ["switchdev"], "trusted": True}
    port = core.port(core.network(), **{"binding:profile": profile})
    assert port["binding:profile"] == {**profile, "pci_slot": "0000:af:00.7"}


# -- subnets ---------------------------------------------------------------------------

@pytest.mark.parametrize("cidr,reason", [
    ("255.255.255.255", "is not a valid IP subnet"),
    ("10.0.0.0/33", "is not a valid IP subnet"),
    ("10.0.0.0/24\n", "is not a valid IP subnet"),
    ("10.0.0.0/ 24", "is not a valid IP subnet"),
    ("fe80::%1/64", "is not a valid IP subnet"),
    ("x", "is not a valid IP subnet"),
    ("255.255.255.255/32", "incompatible with DHCP"),
    ("fd00::/64", "does not match the ip_version"),
])
def test_bad_cidr_refused(api, core, cidr, reason):
    net = core.network()
    assert_error(api.post(SUBNETS, json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                    "cidr": cidr}}), 400, contains=reason)


def test_cidr_host_bits_dropped(core):
    subnet = core.subnet(core.network(), cidr="198.18.252.1/24")
    assert subnet["cidr"] == "198.18.252.0/24"
    assert subnet["gateway_ip"] == "198.18.252.1"


def test_host_subnet_without_dhcp(core):
    subnet = core.subnet(core.network(), cidr="198.18.253.7/32", enable_dhcp=False)
    assert subnet["cidr"] == "198.18.253.7/32"


@pytest.mark.parametrize("gateway,status,contains", [
    ("x", 400, "is not a valid IP address"),
    ("198.18.254.1%0", 400, "is not a valid IP address"),
    ("198.18.254.1\n", 400, "is not a valid IP address"),
    ("fd00::1", 400, "does not match the ip_version"),
    ("198.18.254.0", 400, "Gateway is not valid on subnet"),
    ("198.18.254.255", 400, "Gateway is not valid on subnet"),
    ("10.0.0.1", 400, "is not in subnet"),
])
def test_bad_gateway_refused(api, core, gateway, status, contains):
    net = core.network()
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "198.18.254.0/24",
            "gateway_ip": gateway}
    assert_error(api.post(SUBNETS, json={"subnet": body}), status, contains=contains)
    subnet = core.subnet(net, cidr="198.18.254.0/24")
    assert_error(core.update(SUBNETS, subnet["id"], "subnet", gateway_ip=gateway), status,
                 contains=contains)


@pytest.mark.parametrize("pools,status,type_", [
    ([{"start": "198.18.249.10", "end": "198.18.249.5"}], 400, "InvalidAllocationPool"),
    ([{"start": "198.18.249.10", "end": "198.18.250.5"}], 400, "OutOfBoundsAllocationPool"),
    ([{"start": "198.18.249.0", "end": "198.18.249.5"}], 400, "OutOfBoundsAllocationPool"),
    ([{"start": "198.18.249.10", "end": "198.18.249.20"},
      {"start": "198.18.249.15", "end": "198.18.249.30"}], 409, "OverlappingAllocationPools"),
    ([{"start": "198.18.249.1", "end": "198.18.249.9"}], 409,
     "GatewayConflictWithAllocationPools"),
    ([{"start": "198.18.249.10%1", "end": "198.18.249.20"}], 400, "HTTPBadRequest"),
    ([{"start": "198.18.249.10"}], 400, "HTTPBadRequest"),
    ({"start": "198.18.249.10", "end": "198.18.249.20"}, 400, "HTTPBadRequest"),
])
def test_bad_allocation_pools(api, core, pools, status, type_):
    net = core.network()
    assert_error(api.post(SUBNETS, json={"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "198.18.249.0/24",
        "allocation_pools": pools}}), status, type_)


@pytest.mark.parametrize("attr,value,contains", [
    ("dns_nameservers", ["8.8.8.8\n"], "is not a valid nameserver"),
    ("dns_nameservers", ["8.8.8.8", "8.8.8.8"], "Duplicate nameserver"),
    ("dns_nameservers", ["fd00::53"], "does not match the ip_version"),
    ("host_routes", [{"destination": "10.0.0.0/8", "nexthop": "198.18.248.1%0"}],
     "is not a valid IP address"),
    ("host_routes", [{"destination": "10.0.0.1/8", "nexthop": "198.18.248.1"}],
     "is not a valid CIDR"),
    ("host_routes", [{"destination": "127.0.0.0/8", "nexthop": "198.18.248.1"}],
     "is not a routable CIDR"),
    ("host_routes", [{"destination": "10.0.0.0/8"}], "Expected keys"),
])
def test_bad_nameservers_and_routes(api, core, attr, value, contains):
    net = core.network()
    assert_error(api.post(SUBNETS, json={"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "198.18.248.0/24", attr: value}}),
        400, contains=contains)


# -- floating IPs ----------------------------------------------------------------------

@pytest.mark.parametrize("attr", ["floating_ip_address", "fixed_ip_address"])
@pytest.mark.parametrize("ip", ["198.19.9.9%0", "198.19.9.9\n", "x"])
def test_floating_ip_addresses_validated(api, core, attr, ip):
    net, _ = core.external_network()
    assert_error(api.post(FLOATINGIPS, json={"floatingip": {"floating_network_id": net["id"],
                                                            attr: ip}}), 400, "HTTPBadRequest",
                 attr)
