"""A port's resource_request computed as Neutron computes it (netqos.qos.placement)."""
from __future__ import annotations

import uuid

from netqos.qos.placement import resource_request, trait

PORT = "3f5c1b1e-7a46-4b1e-9a31-2f5a0c6f9d10"


def rule(rule_type, rule_id, direction, **values):
    return {"id": rule_id, "type": rule_type, "direction": direction, **values}


def test_traits_are_normalised_as_os_traits_does():
    assert trait("PHYSNET_", "phys-net.1") == "CUSTOM_PHYSNET_PHYS_NET_1"
    assert trait("VNIC_TYPE_", "direct-physical") == "CUSTOM_VNIC_TYPE_DIRECT_PHYSICAL"


def test_no_minimum_rules_no_request():
    assert resource_request(PORT, "normal", None, []) is None
    assert resource_request(PORT, "normal", "public", [
        rule("bandwidth_limit", "r1", "egress", max_kbps=5)]) is None


def test_groups_and_their_ids():
    rules = [rule("minimum_bandwidth", "b2", "ingress", min_kbps=20),
             rule("minimum_bandwidth", "b1", "egress", min_kbps=10),
             rule("minimum_packet_rate", "p1", "any", min_kpps=3)]
    req = resource_request(PORT, "direct", "physnet1", rules)
    bw_id = str(uuid.uuid5(uuid.UUID(PORT), "b1:b2"))
    pps_id = str(uuid.uuid5(uuid.UUID(PORT), "p1"))
    assert req == {
        "request_groups": [
            {"id": bw_id, "required": ["CUSTOM_PHYSNET_PHYSNET1", "CUSTOM_VNIC_TYPE_DIRECT"],
             "resources": {"NET_BW_EGR_KILOBIT_PER_SEC": 10,
                           "NET_BW_IGR_KILOBIT_PER_SEC": 20}},
            {"id": pps_id, "required": ["CUSTOM_VNIC_TYPE_DIRECT"],
             "resources": {"NET_PACKET_RATE_KILOPACKET_PER_SEC": 3}}],
        "same_subtree": [bw_id, pps_id]}
    # A tunnelled network (no physnet): the tunnel provider's trait.
    (group,) = resource_request(PORT, None, None, rules[:1])["request_groups"]
    assert group["required"] == ["CUSTOM_NETWORK_TUNNEL_PROVIDER", "CUSTOM_VNIC_TYPE_NORMAL"]
