"""The CLI's rule table comes from the rule-type registry (qos/rules.py): names, value
flags, their parsing and their printing, for every registered type."""
from __future__ import annotations

import argparse

import pytest

from netqos.cli import rule_cmds
from netqos.cli.client import UsageError
from netqos.cli.common import RULE_TYPES, SHORT_TYPE, rule_type_arg, rule_value
from netqos.qos.rules import RULE_TYPES as REGISTRY

# One value per unit as a person types it, and what it means on the wire.
TYPED = {"kbps": ("100mbit", 100_000), "kbit": ("2mbit", 2_000), "kpps": ("10kpps", 10),
         "dscp": ("AF31", 26)}


def flags(**given) -> argparse.Namespace:
    return argparse.Namespace(**{f: given.get(f) for f in rule_cmds.FLAGS})


def test_every_registered_type_has_one_cli_name():
    assert set(RULE_TYPES.values()) == set(REGISTRY)
    assert len(RULE_TYPES) == len(REGISTRY)          # no two types share a short name
    for short, name in RULE_TYPES.items():
        assert rule_type_arg(short) == name and rule_type_arg(name + "_rules") == name


@pytest.mark.parametrize("name", list(REGISTRY))
def test_the_flags_of_a_type_fill_its_fields(name):
    rt = REGISTRY[name]
    assert rt.quantities, f"{name} has no quantities: the CLI cannot set it"
    assert {q.field for q in rt.quantities} == set(rt.field_names) - {"direction"}
    body = rule_cmds._values(flags(**{q.word: TYPED[q.unit][0] for q in rt.quantities}),
                             name, creating=True)
    assert body == {q.field: TYPED[q.unit][1] for q in rt.quantities}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_type_refuses_the_flags_of_others_and_needs_its_required_ones(name):
    rt = REGISTRY[name]
    own = {q.word for q in rt.quantities}
    for other in set(rule_cmds.FLAGS) - own:
        with pytest.raises(UsageError, match=f"--{other} does not apply to {rt.short}"):
            rule_cmds._values(flags(**{other: "1"}), name, creating=False)
    with pytest.raises(UsageError, match=f"{rt.short} rules need"):
        rule_cmds._values(flags(), name, creating=True)


@pytest.mark.parametrize("rule, text", [
    ({"type": "bandwidth_limit", "max_kbps": 100_000, "max_burst_kbps": 2_000},
     "100mbit burst 2mbit"),
    ({"type": "bandwidth_limit", "max_kbps": 100_000, "max_burst_kbps": 0}, "100mbit"),
    ({"type": "packet_rate_limit", "max_kpps": 10, "max_burst_kpps": 1}, "10kpps burst 1kpps"),
    ({"type": "minimum_bandwidth", "min_kbps": 2_000}, "2mbit"),
    ({"type": "minimum_packet_rate", "min_kpps": 10}, "10kpps"),
    ({"type": "dscp_marking", "dscp_mark": 26}, "AF31 (26)"),
    ({"type": "not_a_type", "x": 1}, "x=1"),
])
def test_values_print_as_people_read_them(rule, text):
    assert rule_value(rule) == text


def test_directions_come_from_the_registry():
    dscp = flags()
    dscp.direction = "ingress"
    with pytest.raises(UsageError, match="dscp rules have no direction"):
        rule_cmds._directions(dscp, "dscp_marking")
    anyway = flags()
    anyway.direction = "any"
    assert rule_cmds._directions(anyway, "minimum_packet_rate") == ["any"]
    with pytest.raises(UsageError, match="direction any is only for min-pps rules"):
        rule_cmds._directions(anyway, "bandwidth_limit")
    both = flags()
    both.direction = "both"
    assert rule_cmds._directions(both, "bandwidth_limit") == ["ingress", "egress"]
    assert SHORT_TYPE["minimum_packet_rate"] == "min-pps"
