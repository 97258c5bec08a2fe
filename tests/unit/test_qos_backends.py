"""The backend support matrix (netqos.qos.backends): pure functions, no server."""
from __future__ import annotations

import pytest

from netqos.qos import backends
from netqos.qos.backends import (BACKENDS, DEFAULT_LOADED, LINUX_TC, OPENVSWITCH,
                                 OPENVSWITCH_NETDEV, SRIOV, BackendSupport, backend_for_port)
from netqos.qos.rules import RULE_TYPES


def bw(direction="egress", burst=0):
    return {"type": "bandwidth_limit", "max_kbps": 1000, "max_burst_kbps": burst,
            "direction": direction}


EVERY_RULE = [bw(), bw("ingress", 800),
              {"type": "dscp_marking", "dscp_mark": 46},
              {"type": "minimum_bandwidth", "min_kbps": 100, "direction": "egress"},
              {"type": "packet_rate_limit", "max_kpps": 10, "max_burst_kpps": 1,
               "direction": "egress"},
              {"type": "packet_rate_limit", "max_kpps": 10, "max_burst_kpps": 0,
               "direction": "ingress"},
              {"type": "minimum_packet_rate", "min_kpps": 1, "direction": "any"}]


@pytest.mark.parametrize("vnic", ["direct", "macvtap"])
def test_vf_ports_go_to_sriov(vnic):
    assert backend_for_port(vnic) is SRIOV
    assert backend_for_port(vnic, ["linuxtc", "openvswitch"]) is SRIOV
    assert backend_for_port(vnic, ["sriovnicswitch"]) is SRIOV


@pytest.mark.parametrize("vnic", ["normal", None, ""])
def test_normal_ports_go_to_the_hosts_backend(vnic):
    assert backend_for_port(vnic) is LINUX_TC
    assert backend_for_port(vnic, ["linuxtc"]) is LINUX_TC
    assert backend_for_port(vnic, ["openvswitch", "linuxtc"]) is OPENVSWITCH
    assert backend_for_port(vnic, ["openvswitch-netdev"]) is OPENVSWITCH_NETDEV
    # Unknown backends and ones that do not serve the vnic type are passed over.
    assert backend_for_port(vnic, ["no-such", "sriovnicswitch", "openvswitch"]) is OPENVSWITCH


def test_sriov_enforces_egress_bandwidth_limit_without_burst_only():
    assert SRIOV.allows(bw())
    assert not SRIOV.allows(bw("ingress"))
    assert not SRIOV.allows(bw(burst=1))
    assert not SRIOV.allows({"type": "dscp_marking", "dscp_mark": 26})
    assert not SRIOV.allows({"type": "packet_rate_limit", "max_kpps": 1, "direction": "egress"})
    assert SRIOV.allows({"type": "minimum_bandwidth", "min_kbps": 1, "direction": "egress"})
    assert not SRIOV.allows({"type": "minimum_bandwidth", "min_kbps": 1,
                             "direction": "ingress"})
    assert SRIOV.first_refused([bw(), bw("ingress"), bw(burst=5)]) == bw("ingress")
    assert SRIOV.first_refused([bw()]) is None


@pytest.mark.parametrize("backend", [LINUX_TC, OPENVSWITCH])
def test_host_backends_take_every_rule_type(backend):
    assert backend.first_refused(EVERY_RULE) is None
    assert backend.rule_types == frozenset(RULE_TYPES)
    # A guarantee is an uplink share: egress (from the VM) only.
    assert not backend.allows({"type": "minimum_bandwidth", "min_kbps": 1,
                               "direction": "ingress"})


def test_userspace_ovs_refuses_minimum_bandwidth():
    assert not OPENVSWITCH_NETDEV.allows({"type": "minimum_bandwidth", "min_kbps": 1,
                                          "direction": "egress"})
    assert OPENVSWITCH_NETDEV.allows(bw("ingress"))
    assert OPENVSWITCH_NETDEV.first_refused(EVERY_RULE)["type"] == "minimum_bandwidth"


def test_unknown_rule_type_is_refused():
    assert not LINUX_TC.allows({"type": "no_such_rule"})


def test_rule_type_lists():
    assert backends.rule_types_supported_by_all(DEFAULT_LOADED) == list(RULE_TYPES)
    assert backends.rule_types_supported_by_all([*DEFAULT_LOADED, "sriovnicswitch"]) == [
        "bandwidth_limit", "minimum_bandwidth"]
    assert backends.rule_types_supported_by_any(["sriovnicswitch"]) == [
        "bandwidth_limit", "minimum_bandwidth"]
    assert backends.rule_types_supported_by_any(["sriovnicswitch", "linuxtc"]) == \
        list(RULE_TYPES)
    assert backends.rule_types_supported_by_all([]) == []
    assert backends.rule_types_supported_by_all(["no-such"]) == []
    assert backends.rule_types_supported_by_any([]) == []


def test_rule_type_details_show_narrowed_parameters():
    drivers = backends.rule_type_details("bandwidth_limit", ["linuxtc", "sriovnicswitch"])
    assert [d["name"] for d in drivers] == ["linuxtc", "sriovnicswitch"]
    params = {d["name"]: {p["parameter_name"]: p for p in d["supported_parameters"]}
              for d in drivers}
    assert params["linuxtc"]["direction"]["parameter_values"] == ["egress", "ingress"]
    assert params["sriovnicswitch"]["direction"] == {
        "parameter_name": "direction", "parameter_type": "choices",
        "parameter_values": ["egress"]}
    assert params["sriovnicswitch"]["max_burst_kbps"]["parameter_values"] == {"start": 0,
                                                                             "end": 0}
    assert params["linuxtc"]["max_kbps"]["parameter_values"] == {"start": 0,
                                                                "end": 2**31 - 1}
    assert backends.rule_type_details("dscp_marking", ["sriovnicswitch"]) == []
    dscp = backends.rule_type_details("dscp_marking", ["linuxtc"])[0]["supported_parameters"]
    assert dscp[0]["parameter_type"] == "choices" and 46 in dscp[0]["parameter_values"]


def test_every_backend_names_known_rule_types():
    for name, backend in BACKENDS.items():
        assert backend.name == name
        assert backend.rule_types <= frozenset(RULE_TYPES)
        assert backend.vnic_types


@pytest.mark.parametrize("table", [*backends.BACKENDS.values(), backends.L3_FIP],
                         ids=lambda t: t.name)
def test_every_built_in_table_survives_the_heartbeat(table):
    """What an agent reports (to_wire, JSON) decodes to the very table it declared."""
    import json

    assert BackendSupport.from_wire(json.loads(json.dumps(table.to_wire()))) == table


def test_server_tables_keep_configured_ones_and_add_plugins():
    plugin = BackendSupport("fakenic", "hw_veb", ("direct",), ())
    narrowed = BackendSupport("linuxtc", "tap", ("normal",), LINUX_TC.rules[:1])
    got = backends.server_tables(["linuxtc", "openvswitch"], [narrowed, SRIOV, plugin])
    # linuxtc as reported, openvswitch built in, the plug-in added; a built-in backend
    # the server was not configured for (SR-IOV) stays out of the list.
    assert got == [narrowed, OPENVSWITCH, plugin]
    assert backends.server_tables(["linuxtc"], []) == [LINUX_TC]
    assert backend_for_port("direct", [plugin, "linuxtc"]) is plugin
    assert backend_for_port("direct", ["linuxtc"]) is SRIOV     # none serves it: built in
