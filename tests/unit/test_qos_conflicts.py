"""Which rules may share a policy (netqos.qos.conflicts): pure functions, no server."""
from __future__ import annotations

import pytest

from netqos.qos.conflicts import check_rule_fits
from netqos.qos.errors import QoSRuleParameterConflict, QoSRulesConflict

P = "policy-1"


def rule(type_, id_=None, **values):
    return {"id": id_ or f"{type_}-{values.get('direction', '')}", "type": type_, **values}


def bw(max_kbps=1000, direction="egress", id_=None):
    return rule("bandwidth_limit", id_, max_kbps=max_kbps, max_burst_kbps=0,
                direction=direction)


def min_bw(min_kbps=100, direction="egress", id_=None):
    return rule("minimum_bandwidth", id_, min_kbps=min_kbps, direction=direction)


def pps_min(direction, id_=None):
    return rule("minimum_packet_rate", id_, min_kpps=10, direction=direction)


def test_empty_policy_takes_anything():
    for new in (bw(), min_bw(), rule("dscp_marking", dscp_mark=26), pps_min("any"),
                rule("packet_rate_limit", max_kpps=1, max_burst_kpps=0, direction="egress")):
        check_rule_fits(P, [], new)


@pytest.mark.parametrize("existing, new", [
    (bw(direction="egress", id_="a"), bw(direction="egress", id_="b")),
    (bw(direction="ingress", id_="a"), bw(direction="ingress", id_="b")),
    (min_bw(id_="a"), min_bw(id_="b")),
    (rule("dscp_marking", "a", dscp_mark=10), rule("dscp_marking", "b", dscp_mark=12)),
    (rule("packet_rate_limit", "a", max_kpps=1, direction="egress"),
     rule("packet_rate_limit", "b", max_kpps=2, direction="egress")),
    (pps_min("egress", "a"), pps_min("egress", "b")),
    (pps_min("any", "a"), pps_min("any", "b")),
])
def test_duplicates_conflict(existing, new):
    with pytest.raises(QoSRulesConflict) as info:
        check_rule_fits(P, [existing], new)
    assert existing["id"] in str(info.value) and P in str(info.value)
    assert new["type"] in str(info.value)


@pytest.mark.parametrize("existing, new", [
    (pps_min("any", "a"), pps_min("egress", "b")),
    (pps_min("ingress", "a"), pps_min("any", "b")),
])
def test_any_direction_beside_a_directional_minimum_packet_rate(existing, new):
    """Neutron calls it a parameter conflict on the direction, not a duplicate."""
    with pytest.raises(QoSRuleParameterConflict) as info:
        check_rule_fits(P, [existing], new)
    assert str(info.value) == (
        f"Unable to add the rule with value {new['direction']} to the policy {P} as the "
        f"existing rule of type minimum_packet_rate has value {existing['direction']}.")


@pytest.mark.parametrize("existing, new", [
    (bw(direction="egress", id_="a"), bw(direction="ingress", id_="b")),
    (min_bw(direction="egress", id_="a"), min_bw(direction="ingress", id_="b")),
    (pps_min("egress", "a"), pps_min("ingress", "b")),
    (bw(id_="a"), rule("packet_rate_limit", "b", max_kpps=1, direction="egress")),
    (bw(id_="a"), rule("dscp_marking", "b", dscp_mark=26)),
])
def test_different_type_or_direction_coexist(existing, new):
    check_rule_fits(P, [existing], new)


def test_update_skips_the_rules_older_self():
    old = bw(1000, id_="same")
    check_rule_fits(P, [old, bw(5, "ingress", id_="other")], bw(2000, id_="same"))
    # ...but moving it onto another rule's direction conflicts.
    with pytest.raises(QoSRulesConflict):
        check_rule_fits(P, [old, bw(5, "ingress", id_="other")], bw(2000, "ingress", "same"))


def test_minimum_above_maximum_conflicts():
    with pytest.raises(QoSRuleParameterConflict) as info:
        check_rule_fits(P, [bw(1000)], min_bw(1001))
    assert "1001" in str(info.value) and "1000" in str(info.value)
    with pytest.raises(QoSRuleParameterConflict) as info:
        check_rule_fits(P, [min_bw(500)], bw(499))
    assert "bandwidth" in str(info.value) and "499" in str(info.value)


def test_minimum_equal_to_maximum_is_fine():
    check_rule_fits(P, [bw(1000)], min_bw(1000))
    check_rule_fits(P, [min_bw(1000)], bw(1000))


def test_min_max_only_within_one_direction():
    check_rule_fits(P, [bw(1000, "ingress")], min_bw(5000, "egress"))
    check_rule_fits(P, [min_bw(5000, "ingress")], bw(10, "egress"))


def test_packet_rates_have_no_min_max_check():
    check_rule_fits(P, [rule("packet_rate_limit", "a", max_kpps=1, direction="egress")],
                    pps_min("egress", "b"))
