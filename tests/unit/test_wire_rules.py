"""Rules are typed once at the wire (netqos.wire): one frozen class per registered rule
type, with the registry's fields, order and defaults; decoding checks (netqos.trust), and
the wire form round-trips."""
from __future__ import annotations

import dataclasses

import pytest

from netqos import trust
from netqos.qos.attributes import REQUIRED
from netqos.qos.rules import RULE_TYPES
from netqos.wire import (RULE_CLASSES, BandwidthLimit, DscpMarking, MinimumBandwidth,
                         PacketRateLimit, PortQos, decode_rules, find_rule, rule_of)


def test_one_class_per_registered_rule_type():
    assert set(RULE_CLASSES) == set(RULE_TYPES)


@pytest.mark.parametrize("name", list(RULE_TYPES))
def test_class_fields_are_the_registrys(name):
    cls, rule_type = RULE_CLASSES[name], RULE_TYPES[name]
    assert tuple(f.name for f in dataclasses.fields(cls)) == rule_type.field_names
    for f, spec in zip(dataclasses.fields(cls), rule_type.fields):
        if spec.default is REQUIRED:
            assert f.default is dataclasses.MISSING, f.name
        else:
            assert f.default == spec.default, f.name


def test_decoded_rules_are_typed_and_round_trip():
    wire = [{"type": "bandwidth_limit", "max_kbps": 1000, "direction": "ingress", "id": "x"},
            {"type": "dscp_marking", "dscp_mark": 26},
            {"type": "packet_rate_limit", "max_kpps": 5}]
    rules = decode_rules(wire)
    assert rules == (BandwidthLimit(1000, 0, "ingress"), DscpMarking(26),
                     PacketRateLimit(5, 0, "egress"))
    assert decode_rules([r.to_wire() for r in rules]) == rules
    assert rules[0].to_wire() == {"type": "bandwidth_limit", "max_kbps": 1000,
                                  "max_burst_kbps": 0, "direction": "ingress"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules[0].max_kbps = 1    # type: ignore[misc]


def test_decoding_still_checks():
    with pytest.raises(trust.Untrusted):
        decode_rules([{"type": "bandwidth_limit", "max_kbps": "10\nqdisc del"}])
    with pytest.raises(trust.Untrusted):
        decode_rules([{"type": "no_such_rule"}])


def test_a_port_finds_its_rules_by_class_and_direction():
    port = PortQos("p", 1, rules=({"type": "bandwidth_limit", "max_kbps": 10,
                                   "direction": "egress"},
                                  {"type": "bandwidth_limit", "max_kbps": 20,
                                   "direction": "ingress"},
                                  {"type": "minimum_bandwidth", "min_kbps": 5}))
    assert all(not isinstance(r, dict) for r in port.rules)   # dicts typed on construction
    assert port.rule(BandwidthLimit, "ingress") == BandwidthLimit(20, 0, "ingress")
    assert port.rule(BandwidthLimit).max_kbps == 10
    assert port.rule(DscpMarking) is None
    assert find_rule(port.rules, MinimumBandwidth, "egress") == MinimumBandwidth(5)
    assert PortQos.from_wire(port.to_wire()) == port
    assert rule_of(port.rules[0]) is port.rules[0]
