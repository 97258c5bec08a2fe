"""Effective-policy resolution (netqos.qos.policy): pure functions, no server."""
from __future__ import annotations

import pytest

from netqos.qos.policy import effective_policy_id, network_policy_applies

PORT, NET = "port-policy", "net-policy"


@pytest.mark.parametrize("owner", ["", None, "compute:nova", "compute:az1", "baremetal:none",
                                   "network:router_gateway",
                                   "network:floatingip_agent_gateway", "trunk:subport",
                                   "networkish", "neutronic:x"])
def test_network_policy_applies_to_workload_and_gateway_ports(owner):
    assert network_policy_applies(owner)
    assert effective_policy_id(None, NET, owner) == NET


@pytest.mark.parametrize("owner", ["network:dhcp", "network:router_interface",
                                   "network:router_interface_distributed",
                                   "network:ha_router_replicated_interface",
                                   "network:floatingip", "network:distributed",
                                   "network:router_centralized_snat", "network:",
                                   "neutron:LOADBALANCERV2", "neutron:"])
def test_network_policy_skips_service_ports(owner):
    assert not network_policy_applies(owner)
    assert effective_policy_id(None, NET, owner) is None


@pytest.mark.parametrize("owner", ["", "compute:nova", "network:dhcp",
                                   "network:router_gateway", "neutron:LOADBALANCERV2"])
def test_own_policy_always_wins(owner):
    assert effective_policy_id(PORT, NET, owner) == PORT
    assert effective_policy_id(PORT, None, owner) == PORT


def test_no_policy_anywhere():
    assert effective_policy_id(None, None, "") is None
    assert effective_policy_id("", "", "compute:nova") is None
    assert effective_policy_id("", NET, "compute:nova") == NET


def test_prefix_is_case_sensitive_as_in_neutron():
    # Neutron compares device_owner prefixes exactly; "Network:dhcp" is a workload port.
    assert network_policy_applies("Network:dhcp")
