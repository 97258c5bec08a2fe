"""qos/netattrs.py: the typed fields for values an agent formats, without a server."""
from __future__ import annotations

import pytest

from netqos.qos.attributes import InvalidAttribute
from netqos.qos import netattrs as na


@pytest.mark.parametrize("value,canonical", [
    ("fa:16:3e:0A:0b:0c", "fa:16:3e:0a:0b:0c"), ("FA-16-3E-0A-0B-0C", "fa:16:3e:0a:0b:0c")])
def test_mac_canonical(value, canonical):
    assert na.MacAddress("mac_address").convert(value) == canonical


@pytest.mark.parametrize("value", ["fa:16:3e:00:00:01\n", "fa:16:3e:00:00:01\nx",
                                   "fa:16:3e:00-00:01", "00:00:00:00:00:00",
                                   "ff:ff:ff:ff:ff:ff", "fa:16:3e:00:00", "", 1])
def test_mac_refused(value):
    with pytest.raises(InvalidAttribute, match="is not a valid MAC address"):
        na.MacAddress("mac_address").convert(value)


@pytest.mark.parametrize("value,canonical", [
    ("2001:DB8:0:0::99", "2001:db8::99"), ("198.18.0.1", "198.18.0.1"), ("::", "::")])
def test_ip_canonical(value, canonical):
    assert na.IpAddress("ip").convert(value) == canonical


@pytest.mark.parametrize("value,reason", [
    ("2001:db8::99%0", "is not a valid IP address"),
    ("2001:db8:1::99%\nqdisc del dev qg-x root\nx", "is not a valid IP address"),
    ("198.18.0.1\n", "is not a valid IP address"), ("1" * 59, "is not a valid IP address"),
    ("198.18.1", "is not a valid IP address"), ("198.018.0.1", "is not a valid IP address"),
    ("198.18.0.01", "is not a valid IP address")])
def test_ip_refused(value, reason):
    with pytest.raises(InvalidAttribute, match=reason):
        na.IpAddress("ip").convert(value)


def test_subnet_drops_host_bits_and_needs_a_prefix():
    assert na.Subnet("cidr").convert("10.0.0.1/24") == "10.0.0.0/24"
    assert na.Subnet("cidr").convert("FD00::1/64") == "fd00::/64"
    for bad in ("255.255.255.255", "10.0.0.0/33", "10.0.0.0/24\n", "fe80::%1/64", "10/8",
                "10.0.0.0/+8", "10.0.0.0/٨"):
        with pytest.raises(InvalidAttribute, match="is not a valid IP subnet"):
            na.Subnet("cidr").convert(bad)


def test_route_cidr_is_a_network_and_routable():
    assert na.RouteCidr("destination").convert("10.0.0.0/8") == "10.0.0.0/8"
    with pytest.raises(InvalidAttribute, match="is not a valid CIDR"):
        na.RouteCidr("destination").convert("10.0.0.1/8")
    with pytest.raises(InvalidAttribute, match="is not a routable CIDR"):
        na.RouteCidr("destination").convert("127.0.0.0/8")


def test_fixed_ips_canonical_and_unique():
    field = na.FixedIps("fixed_ips")
    assert field.convert([{"ip_address": "FD00::0:1"}]) == [{"ip_address": "fd00::1"}]
    with pytest.raises(InvalidAttribute, match="Duplicate IP address"):
        field.convert([{"ip_address": "fd00::1"}, {"ip_address": "FD00:0::1"}])
    with pytest.raises(InvalidAttribute, match="Invalid data format"):
        field.convert([{"ip_address": "fd00::1", "extra": 1}])


@pytest.mark.parametrize("value", ["", "compute-1", "host.example.org", "node:7", "a@b"])
def test_host_ids(value):
    assert na.HostId("binding:host_id").convert(value) == value
    assert na.HostId("binding:host_id").convert(None) == ""


@pytest.mark.parametrize("value", ["h x", "h\n", "../h", "h/x", "-h", "h" * 256, 1])
def test_host_ids_refused(value):
    with pytest.raises(InvalidAttribute):
        na.HostId("binding:host_id").convert(value)


def test_profile_known_keys_checked_others_plain():
    field = na.BindingProfile("binding:profile")
    assert field.convert({"pci_slot": "0000:AF:00.7", "physical_network": "physnet1",
                          "device": "ens1f0v3", "capabilities": ["switchdev"]}) == {
        "pci_slot": "0000:af:00.7", "physical_network": "physnet1", "device": "ens1f0v3",
        "capabilities": ["switchdev"]}
    for bad in ({"pci_slot": "0000:af:00.7\n"}, {"pci_slot": "../../x"}, {"device": "a" * 16},
                {"device": ".."}, {"physical_network": "a b"}, {"x": "a\nb"}, {"a b": 1},
                {"x": float("nan")}, {"x": {"y": {"z": {"w": {"v": 1}}}}}, []):
        with pytest.raises(InvalidAttribute):
            field.convert(bad)


def test_printable_string():
    field = na.PrintableString("device_owner")
    assert field.convert("compute:nova") == "compute:nova"
    for bad in ("a\nb", "a\x1bb", "a\u2028b", "a\x85b"):
        with pytest.raises(InvalidAttribute, match="contains control characters"):
            field.convert(bad)
