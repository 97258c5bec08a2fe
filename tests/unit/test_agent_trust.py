"""The agent's own checks of what it pulls (netqos.trust), pure parts: every value
that becomes tc / ip / nft / OpenFlow text or a sysfs path, decoded port by port, with the
refused ones kept for the report. The same payloads go through a real agent process in
tests/dataplane/test_agent_hostile.py.
"""
from __future__ import annotations

import pytest

from netqos import trust
from netqos.agent import discover
from netqos.agent.l3.model import RouterQos
from netqos.wire import BandwidthLimit, PortQos
from netqos.agent.tc.runner import BatchResult

PID = "0b3b2a41-7d7a-4f7e-9c59-3d4e1e6f0a11"
INJECTED = "\nqdisc del dev qg-0b3b2a41-7d root\nx"


def port(**over) -> dict:
    doc = {"port_id": PID, "revision": 3, "mac_address": "FA:16:3E:00:00:01",
           "fixed_ips": ["10.0.0.5", "2001:db8::0005"], "vnic_type": "normal",
           "device": None, "policy_id": "5c1e2d3f-0000-4000-8000-000000000001",
           "rules": [{"type": "bandwidth_limit", "max_kbps": 1000, "max_burst_kbps": 0,
                      "direction": "egress", "qos_policy_id": "x"}],
           "profile": {}, "admin_state_up": True}
    return {**doc, **over}


def test_a_good_port_is_decoded_canonical():
    p = PortQos.from_wire(port(profile={"pci_slot": "0000:3B:10.1", "other": "x\n"}))
    assert p.mac_address == "fa:16:3e:00:00:01"
    assert p.fixed_ips == ("10.0.0.5", "2001:db8::5")
    assert p.rules == (BandwidthLimit(max_kbps=1000, max_burst_kbps=0,
                                      direction="egress"),)   # typed; nothing it does not use
    assert p.profile == {"pci_slot": "0000:3b:10.1"}     # unknown keys dropped
    assert PortQos.from_wire(p.to_wire()) == p
    # empty optional names are absent, as before: the port's own tap is its device
    p = PortQos.from_wire(port(device="", profile={"device": "", "pci_slot": None}))
    assert p.device is None and p.profile == {}


HOSTILE_PORTS = {
    "mac with a trailing newline": {"mac_address": "fa:16:3e:00:00:01\n"},
    "mac too short": {"mac_address": "fa:16:3e:00:01"},
    "mac of the wrong type": {"mac_address": 12},
    "address with a scope id": {"fixed_ips": ["2001:db8:1::99%" + INJECTED]},
    "address with a plain scope": {"fixed_ips": ["fe80::1%0"]},
    "address not an address": {"fixed_ips": ["10.0.0.256"]},
    "addresses not a list": {"fixed_ips": "10.0.0.1"},
    "device with a space": {"device": "tap x"},
    "device with a newline": {"device": "tap1\nqdisc"},
    "device too long": {"device": "a" * 16},
    "device dot dot": {"device": ".."},
    "device of the wrong type": {"device": ["tap1"]},
    "negative rate": {"rules": [{"type": "bandwidth_limit", "max_kbps": -1}]},
    "huge rate": {"rules": [{"type": "bandwidth_limit", "max_kbps": 2**40}]},
    "rate as a string": {"rules": [{"type": "bandwidth_limit", "max_kbps": "1000"}]},
    "rate as a bool": {"rules": [{"type": "bandwidth_limit", "max_kbps": True}]},
    "rate as a float": {"rules": [{"type": "bandwidth_limit", "max_kbps": 1000.5}]},
    "rate missing": {"rules": [{"type": "bandwidth_limit", "direction": "egress"}]},
    "burst negative": {"rules": [{"type": "bandwidth_limit", "max_kbps": 1,
                                  "max_burst_kbps": -5}]},
    "unknown direction": {"rules": [{"type": "bandwidth_limit", "max_kbps": 1,
                                     "direction": "egress\nx"}]},
    "dscp out of the set": {"rules": [{"type": "dscp_marking", "dscp_mark": 63}]},
    "dscp as a string": {"rules": [{"type": "dscp_marking", "dscp_mark": "26"}]},
    "pps huge": {"rules": [{"type": "packet_rate_limit", "max_kpps": 2**31}]},
    "unknown rule type": {"rules": [{"type": "police_everything", "rate": 1}]},
    "rule not an object": {"rules": ["bandwidth_limit"]},
    "pci slot with a path": {"profile": {"pci_slot": "../../../../etc"}},
    "pci slot with a newline": {"profile": {"pci_slot": "0000:3b:10.1\n"}},
    "profile device injected": {"profile": {"device": "tap1 root"}},
    "profile not an object": {"profile": "x"},
    "vnic type injected": {"vnic_type": "normal\n"},
    "revision negative": {"revision": -1},
    "revision a string": {"revision": "3"},
    "admin state a string": {"admin_state_up": "false"},
    "policy id injected": {"policy_id": "a b"},
    # The port's network segment (bridge, VXLAN and VLAN device names come from it).
    "network not an object": {"network": "vxlan"},
    "network type unknown": {"network": {"network_id": "n1", "network_type": "geneve"}},
    "network id injected": {"network": {"network_id": "n1\nx", "network_type": "vxlan"}},
    "physnet with a newline": {"network": {"network_id": "n1", "network_type": "flat",
                                           "physical_network": "public\n"}},
    "physnet with a scope id": {"network": {"network_id": "n1", "network_type": "flat",
                                            "physical_network": "eth0%1"}},
    "vni huge": {"network": {"network_id": "n1", "network_type": "vxlan",
                             "segmentation_id": 2**24}},
    "gre key huge": {"network": {"network_id": "n1", "network_type": "gre",
                                 "segmentation_id": 2**32}},
    "vni a string": {"network": {"network_id": "n1", "network_type": "vxlan",
                                 "segmentation_id": "100"}},
    "mtu huge": {"network": {"network_id": "n1", "network_type": "vxlan", "mtu": 2**31}},
}


@pytest.mark.parametrize("over", HOSTILE_PORTS.values(), ids=HOSTILE_PORTS.keys())
def test_every_hostile_port_value_is_refused_with_its_field_named(over):
    with pytest.raises(trust.Untrusted) as exc:
        PortQos.from_wire(port(**over))
    field = next(iter(over))
    assert field.split("_")[0] in str(exc.value) or "rule" in str(exc.value), exc.value


def test_decode_all_keeps_the_good_and_reports_the_bad_by_port():
    bad_id = "9" * 8 + "-bad"
    docs = [port(), port(port_id=bad_id, revision=7, mac_address="fa:16:3e:00:00:02\n"),
            port(port_id="id with space"), "not an object", port(port_id="p2")]
    good, refused = trust.decode_all(docs, PortQos.from_wire, "port_id", "ports")
    assert [p.port_id for p in good] == [PID, "p2"]
    # the one with a usable id is reported at its revision; the others cannot be named
    assert [(r.port_id, r.revision, r.status) for r in refused] == [(bad_id, 7, "ERROR")]
    assert "mac_address" in refused[0].reason and "\n" not in refused[0].reason
    with pytest.raises(trust.Untrusted):
        trust.decode_all({"ports": []}, PortQos.from_wire, "port_id", "ports")


def router(**over) -> dict:
    doc = {"router_id": "r1", "revision": 2, "gw_port_id": "gw1", "gw_device": "qg-gw1",
           "namespace": "qrouter-r1", "gw_ips": ["2001:db8:1::99"], "gw_policy_id": None,
           "gw_rules": [{"type": "bandwidth_limit", "max_kbps": 500, "direction": "egress"}],
           "floatingips": [{"id": "f1", "floating_ip_address": "203.0.113.5",
                            "fixed_ip_address": "10.0.0.5", "rules": [], "revision": 1}]}
    return {**doc, **over}


HOSTILE_ROUTERS = {
    "gateway ip with a scope id and commands": {"gw_ips": ["2001:db8:1::99%" + INJECTED]},
    "gateway device injected": {"gw_device": "qg-1 root"},
    "namespace a path": {"namespace": "../../proc/1/ns/net"},
    "gateway rules huge": {"gw_rules": [{"type": "bandwidth_limit", "max_kbps": 2**63}]},
    "floating ip injected": {"floatingips": [{"id": "f1",
                                              "floating_ip_address": "203.0.113.5\n"}]},
    "floating ip id injected": {"floatingips": [{"id": "f 1",
                                                 "floating_ip_address": "203.0.113.5"}]},
    "floating ips not a list": {"floatingips": {"id": "f1"}},
}


@pytest.mark.parametrize("over", HOSTILE_ROUTERS.values(), ids=HOSTILE_ROUTERS.keys())
def test_every_hostile_router_value_refuses_the_router(over):
    good, refused = trust.decode_all([router(**over), router(router_id="r2", gw_port_id="gw2",
                                                             namespace="qrouter-r2")],
                                     RouterQos.from_wire, "gw_port_id", "routers")
    assert [r.router_id for r in good] == ["r2"]
    assert [(r.port_id, r.revision) for r in refused] == [("gw1", 2)]


def test_a_good_router_is_decoded_canonical():
    r = RouterQos.from_wire(router(gw_ips=["2001:DB8:1:0::99"]))
    assert r.gw_ips == ("2001:db8:1::99",) and r.floatingips[0].address == "203.0.113.5"


def test_a_port_naming_another_ports_device_is_refused_not_the_other():
    victim = PortQos.from_wire(port())
    taker = PortQos.from_wire(port(port_id="p2", device="tap" + PID[:11]))
    twin_a = PortQos.from_wire(port(port_id="p3", device="eth7"))
    twin_b = PortQos.from_wire(port(port_id="p4", device="eth7"))
    good, refused = trust.unshared_devices([victim, taker, twin_a, twin_b],
                                           discover.candidate_devices)
    assert [p.port_id for p in good] == [PID]
    assert {r.port_id: r.reason.rsplit(" ", 1)[-1] for r in refused} == {
        "p2": PID, "p3": "p4", "p4": "p3"}


def test_blame_never_indexes_out_of_range():
    owners = ["a", "b", "c"]
    assert BatchResult({2: "bad"}).blame(owners) == {"b": "bad"}
    # a line past the batch's end (more lines than were sent) or the batch as a whole:
    # nothing of it is known to hold, so every owner gets it, and nothing raises
    everyone = BatchResult({7: "RTNETLINK answers: no"}).blame(owners)
    assert set(everyone) == {"a", "b", "c"} and "no" in everyone["a"]
    assert set(BatchResult({0: "tc exit 1"}).blame(owners)) == {"a", "b", "c"}
    assert BatchResult({1: "x"}).blame([]) == {}


@pytest.mark.parametrize("value,ok", [("0000:3b:10.1", True), ("0000:3b:10.8", False),
                                      ("3b:10.1", False), ("0000:3b:10.1\n", False)])
def test_pci_addresses(value, ok):
    if ok:
        assert trust.pci_address(value) == value
    else:
        with pytest.raises(trust.Untrusted):
            trust.pci_address(value)


@pytest.mark.parametrize("value", ["10.0.0.0/8", "2001:db8::/32"])
def test_prefixes(value):
    assert trust.prefix(value) == value
    for bad in (value + "\n", "10.0.0.1/8", "fe80::%1/64", 5):
        with pytest.raises(trust.Untrusted):
            trust.prefix(bad)
