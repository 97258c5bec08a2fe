"""The five rule types under /v2.0/qos/policies/{id}/<type>_rules and their alias routes."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import (POLICIES, RULES, alias_url, assert_error, collection, member,
                                rules_url)

MAX = 2147483647
VALID_DSCP = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 44, 46, 48,
              56)

# Every field of each type with its default (None: required).
FIELDS = {
    "bandwidth_limit": {"max_kbps": None, "max_burst_kbps": 0, "direction": "egress"},
    "dscp_marking": {"dscp_mark": None},
    "minimum_bandwidth": {"min_kbps": None, "direction": "egress"},
    "minimum_packet_rate": {"min_kpps": None, "direction": "egress"},
    "packet_rate_limit": {"max_kpps": None, "max_burst_kpps": 0, "direction": "egress"},
}
REQUIRED = {t: next(f for f, d in fields.items() if d is None) for t, fields in FIELDS.items()}
INT_FIELDS = [(t, f) for t, fields in FIELDS.items() for f in fields
              if f not in ("direction", "dscp_mark")]
DIRECTIONAL = [t for t in FIELDS if "direction" in FIELDS[t]]
TYPES = list(FIELDS)


@pytest.fixture
def policy(new_policy):
    return new_policy()


def post_rule(api, policy_id, rule_type, body):
    return api.post(rules_url(policy_id, rule_type), json={member(rule_type): body})


@pytest.mark.parametrize("rule_type", TYPES)
def test_rule_lifecycle(api, policy, rule_type):
    pid = policy["id"]
    resp = post_rule(api, pid, rule_type, RULES[rule_type])
    assert resp.status_code == 201, resp.text
    assert set(resp.json()) == {member(rule_type)}
    rule = resp.json()[member(rule_type)]
    expected = {f: (RULES[rule_type][f] if d is None else d) for f, d in FIELDS[rule_type].items()}
    assert rule == {"id": rule["id"], **expected}

    assert api.get(rules_url(pid, rule_type, rule["id"])).json() == {member(rule_type): rule}
    listed = api.get(rules_url(pid, rule_type))
    assert listed.status_code == 200
    assert listed.json() == {collection(rule_type): [rule]}

    in_policy = api.get(f"{POLICIES}/{pid}").json()["policy"]["rules"]
    assert in_policy == [{**rule, "type": rule_type, "qos_policy_id": pid}]

    field = REQUIRED[rule_type]
    new_value = 46 if rule_type == "dscp_marking" else 777
    resp = api.put(rules_url(pid, rule_type, rule["id"]),
                   json={member(rule_type): {field: new_value}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {member(rule_type): {**rule, field: new_value}}
    assert api.get(rules_url(pid, rule_type, rule["id"])).json()[member(rule_type)][field] \
        == new_value

    assert api.delete(rules_url(pid, rule_type, rule["id"])).status_code == 204
    assert_error(api.get(rules_url(pid, rule_type, rule["id"])), 404, "QosRuleNotFound")
    assert_error(api.delete(rules_url(pid, rule_type, rule["id"])), 404, "QosRuleNotFound")
    assert api.get(rules_url(pid, rule_type)).json() == {collection(rule_type): []}
    assert api.get(f"{POLICIES}/{pid}").json()["policy"]["rules"] == []


@pytest.mark.parametrize("rule_type", TYPES)
def test_all_fields_given(api, policy, rule_type):
    body = {f: (46 if f == "dscp_mark" else "ingress" if f == "direction" else 123)
            for f in FIELDS[rule_type]}
    resp = post_rule(api, policy["id"], rule_type, body)
    assert resp.status_code == 201, resp.text
    assert resp.json()[member(rule_type)] == {"id": resp.json()[member(rule_type)]["id"], **body}


@pytest.mark.parametrize("rule_type", TYPES)
def test_required_field_missing(api, policy, rule_type):
    err = assert_error(post_rule(api, policy["id"], rule_type, {}), 400)
    assert REQUIRED[rule_type] in err["message"]


@pytest.mark.parametrize("rule_type,field", INT_FIELDS)
@pytest.mark.parametrize("value", [-1, MAX + 1])
def test_integer_out_of_range(api, policy, rule_type, field, value):
    body = {**RULES[rule_type], field: value}
    err = assert_error(post_rule(api, policy["id"], rule_type, body), 400, "HTTPBadRequest")
    assert field in err["message"] and str(value) in err["message"]


@pytest.mark.parametrize("rule_type,field", INT_FIELDS)
@pytest.mark.parametrize("value", [None, "abc", "", "1.5", 1.5, True, [1], {"a": 1}])
def test_not_an_integer(api, policy, rule_type, field, value):
    """Neutron's converter refuses these before any range check: InvalidInput, naming the
    value as Python prints it."""
    body = {**RULES[rule_type], field: value}
    err = assert_error(post_rule(api, policy["id"], rule_type, body), 400, "InvalidInput")
    assert err["message"] == f"Invalid input for operation: '{value}' is not an integer."


@pytest.mark.parametrize("rule_type,field", INT_FIELDS)
def test_integer_bounds_and_numeric_strings(api, new_policy, rule_type, field):
    for value, stored in ((0, 0), (MAX, MAX), ("42", 42), (" 7 ", 7)):
        pid = new_policy()["id"]
        resp = post_rule(api, pid, rule_type, {**RULES[rule_type], field: value})
        assert resp.status_code == 201, (value, resp.text)
        assert resp.json()[member(rule_type)][field] == stored


@pytest.mark.parametrize("rule_type,field", INT_FIELDS)
def test_invalid_integer_in_put(api, policy, rule_type, field):
    rule = post_rule(api, policy["id"], rule_type, RULES[rule_type]).json()[member(rule_type)]
    url = rules_url(policy["id"], rule_type, rule["id"])
    for value in (-5, MAX + 1):
        err = assert_error(api.put(url, json={member(rule_type): {field: value}}), 400,
                           "HTTPBadRequest")
        assert field in err["message"]
    for value in (None, "x"):
        err = assert_error(api.put(url, json={member(rule_type): {field: value}}), 400,
                           "InvalidInput")
        assert f"'{value}' is not an integer" in err["message"]
    resp = api.put(url, json={member(rule_type): {field: "99"}})
    assert resp.status_code == 200 and resp.json()[member(rule_type)][field] == 99


def test_dscp_marks(api, new_policy):
    for mark in VALID_DSCP:
        pid = new_policy()["id"]
        resp = post_rule(api, pid, "dscp_marking", {"dscp_mark": mark})
        assert resp.status_code == 201, (mark, resp.text)
        assert resp.json()["dscp_marking_rule"]["dscp_mark"] == mark
    pid = new_policy()["id"]
    resp = post_rule(api, pid, "dscp_marking", {"dscp_mark": "26"})
    assert resp.status_code == 201 and resp.json()["dscp_marking_rule"]["dscp_mark"] == 26


@pytest.mark.parametrize("mark", [1, 7, 9, 42, 57, 63, 64, -8])
def test_invalid_dscp_marks(api, policy, mark):
    err = assert_error(post_rule(api, policy["id"], "dscp_marking", {"dscp_mark": mark}), 400,
                       "HTTPBadRequest")
    assert err["message"] == f"Invalid input for dscp_mark. Reason: {mark} is not in valid_values."


@pytest.mark.parametrize("mark", [None, "af41", True, 26.5])
def test_dscp_mark_not_an_integer(api, policy, mark):
    err = assert_error(post_rule(api, policy["id"], "dscp_marking", {"dscp_mark": mark}), 400,
                       "InvalidInput")
    assert f"'{mark}' is not an integer" in err["message"]


@pytest.mark.parametrize("rule_type", DIRECTIONAL)
@pytest.mark.parametrize("direction", ["up", "EGRESS", "", None, 1])
def test_invalid_direction(api, policy, rule_type, direction):
    body = {**RULES[rule_type], "direction": direction}
    err = assert_error(post_rule(api, policy["id"], rule_type, body), 400)
    assert "direction" in err["message"]


@pytest.mark.parametrize("rule_type", [t for t in DIRECTIONAL if t != "minimum_packet_rate"])
def test_direction_any_only_for_minimum_packet_rate(api, policy, rule_type):
    assert_error(post_rule(api, policy["id"], rule_type,
                           {**RULES[rule_type], "direction": "any"}), 400)


@pytest.mark.parametrize("rule_type,extra", [
    ("dscp_marking", {"direction": "egress"}),
    ("dscp_marking", {"max_kbps": 5}),
    ("bandwidth_limit", {"min_kbps": 5}),
    ("minimum_bandwidth", {"max_burst_kbps": 5}),
    ("packet_rate_limit", {"max_kbps": 5}),
    ("minimum_packet_rate", {"max_kpps": 5}),
    ("bandwidth_limit", {"foo": 1}),
])
def test_field_the_type_does_not_have(api, policy, rule_type, extra):
    err = assert_error(post_rule(api, policy["id"], rule_type, {**RULES[rule_type], **extra}),
                       400)
    assert next(iter(extra)) in err["message"]


@pytest.mark.parametrize("rule_type", TYPES)
@pytest.mark.parametrize("attr", ["id", "qos_policy_id", "type", "tenant_id", "project_id"])
def test_read_only_in_rule_body(api, policy, rule_type, attr):
    value = policy["id"] if attr != "type" else rule_type
    err = assert_error(post_rule(api, policy["id"], rule_type,
                                 {**RULES[rule_type], attr: value}), 400)
    assert attr in err["message"]
    rule = post_rule(api, policy["id"], rule_type, RULES[rule_type]).json()[member(rule_type)]
    err = assert_error(api.put(rules_url(policy["id"], rule_type, rule["id"]),
                               json={member(rule_type): {attr: value}}), 400)
    assert attr in err["message"]


@pytest.mark.parametrize("rule_type", TYPES)
def test_wrong_root_key(api, policy, rule_type):
    other = "dscp_marking" if rule_type != "dscp_marking" else "bandwidth_limit"
    assert_error(post_rule(api, policy["id"], rule_type, None), 400)
    assert_error(api.post(rules_url(policy["id"], rule_type),
                          json={member(other): RULES[rule_type]}), 400,
                 contains=f"Unable to find '{member(rule_type)}' in request body")
    assert_error(api.post(rules_url(policy["id"], rule_type), content=b"{oops",
                          headers={"Content-Type": "application/json"}), 400)
    assert_error(api.post(rules_url(policy["id"], rule_type)), 400)


@pytest.mark.parametrize("rule_type", TYPES)
def test_rule_of_missing_policy(api, rule_type):
    for pid in (str(uuid.uuid4()), "not-a-uuid"):
        assert_error(post_rule(api, pid, rule_type, RULES[rule_type]), 404, "QosPolicyNotFound")
        assert_error(api.get(rules_url(pid, rule_type)), 404, "QosPolicyNotFound")
        assert_error(api.get(rules_url(pid, rule_type, str(uuid.uuid4()))), 404,
                     "QosPolicyNotFound")
        assert_error(api.put(rules_url(pid, rule_type, str(uuid.uuid4())),
                             json={member(rule_type): RULES[rule_type]}), 404,
                     "QosPolicyNotFound")
        assert_error(api.delete(rules_url(pid, rule_type, str(uuid.uuid4()))), 404,
                     "QosPolicyNotFound")


@pytest.mark.parametrize("rule_type", TYPES)
def test_missing_rule(api, policy, rule_type):
    for rid in (str(uuid.uuid4()), "nope"):
        url = rules_url(policy["id"], rule_type, rid)
        assert_error(api.get(url), 404, "QosRuleNotFound")
        assert_error(api.put(url, json={member(rule_type): RULES[rule_type]}), 404,
                     "QosRuleNotFound")
        assert_error(api.delete(url), 404, "QosRuleNotFound")


def test_rule_seen_only_under_its_own_policy_and_type(api, new_policy):
    a, b = new_policy()["id"], new_policy()["id"]
    rule = post_rule(api, a, "bandwidth_limit", RULES["bandwidth_limit"]).json()[
        "bandwidth_limit_rule"]
    assert_error(api.get(rules_url(b, "bandwidth_limit", rule["id"])), 404, "QosRuleNotFound")
    assert_error(api.delete(rules_url(b, "bandwidth_limit", rule["id"])), 404, "QosRuleNotFound")
    assert_error(api.get(rules_url(a, "packet_rate_limit", rule["id"])), 404, "QosRuleNotFound")
    assert_error(api.get(alias_url("packet_rate_limit", rule["id"])), 404, "QosRuleNotFound")
    assert api.get(rules_url(a, "bandwidth_limit", rule["id"])).status_code == 200


@pytest.mark.parametrize("rule_type", TYPES)
def test_wrong_methods(api, policy, rule_type):
    rule = post_rule(api, policy["id"], rule_type, RULES[rule_type]).json()[member(rule_type)]
    assert_error(api.put(rules_url(policy["id"], rule_type), json={}), 405)
    assert_error(api.delete(rules_url(policy["id"], rule_type)), 405)
    assert_error(api.post(rules_url(policy["id"], rule_type, rule["id"]), json={}), 405)
    assert_error(api.post(alias_url(rule_type, rule["id"]), json={}), 405)


# -- conflicts ------------------------------------------------------------------------

@pytest.mark.parametrize("rule_type", TYPES)
def test_second_rule_of_a_type_conflicts(api, policy, rule_type):
    first = post_rule(api, policy["id"], rule_type, RULES[rule_type])
    assert first.status_code == 201
    err = assert_error(post_rule(api, policy["id"], rule_type, RULES[rule_type]), 409,
                       "QoSRulesConflict")
    assert first.json()[member(rule_type)]["id"] in err["message"]
    assert len(api.get(rules_url(policy["id"], rule_type)).json()[collection(rule_type)]) == 1


@pytest.mark.parametrize("rule_type", [t for t in DIRECTIONAL if t != "minimum_packet_rate"])
def test_one_rule_per_direction(api, policy, rule_type):
    pid = policy["id"]
    egress = post_rule(api, pid, rule_type, RULES[rule_type]).json()[member(rule_type)]
    resp = post_rule(api, pid, rule_type, {**RULES[rule_type], "direction": "ingress"})
    assert resp.status_code == 201, resp.text
    ingress = resp.json()[member(rule_type)]
    assert_error(post_rule(api, pid, rule_type, {**RULES[rule_type], "direction": "ingress"}),
                 409, "QoSRulesConflict")
    # A PUT that moves a rule onto the other's direction conflicts too.
    assert_error(api.put(rules_url(pid, rule_type, egress["id"]),
                         json={member(rule_type): {"direction": "ingress"}}), 409,
                 "QoSRulesConflict")
    # Setting a rule's own direction again is no conflict.
    resp = api.put(rules_url(pid, rule_type, ingress["id"]),
                   json={member(rule_type): {"direction": "ingress"}})
    assert resp.status_code == 200, resp.text
    # Once the way is free, the move succeeds.
    assert api.delete(rules_url(pid, rule_type, ingress["id"])).status_code == 204
    resp = api.put(rules_url(pid, rule_type, egress["id"]),
                   json={member(rule_type): {"direction": "ingress"}})
    assert resp.status_code == 200 and resp.json()[member(rule_type)]["direction"] == "ingress"


def test_minimum_packet_rate_any(api, new_policy):
    rt = "minimum_packet_rate"
    pid = new_policy()["id"]
    any_rule = post_rule(api, pid, rt, {"min_kpps": 10, "direction": "any"})
    assert any_rule.status_code == 201, any_rule.text
    # 'any' beside a directional one: a parameter conflict (on the direction), as Neutron
    # says; a second 'any': a duplicate.
    for direction, type_ in (("egress", "QoSRuleParameterConflict"),
                             ("ingress", "QoSRuleParameterConflict"),
                             ("any", "QoSRulesConflict")):
        assert_error(post_rule(api, pid, rt, {"min_kpps": 10, "direction": direction}), 409,
                     type_)

    pid = new_policy()["id"]
    egress = post_rule(api, pid, rt, {"min_kpps": 10}).json()[member(rt)]
    assert egress["direction"] == "egress"
    assert_error(post_rule(api, pid, rt, {"min_kpps": 10, "direction": "any"}), 409,
                 "QoSRuleParameterConflict")
    ingress = post_rule(api, pid, rt, {"min_kpps": 10, "direction": "ingress"})
    assert ingress.status_code == 201
    assert_error(api.put(rules_url(pid, rt, egress["id"]),
                         json={member(rt): {"direction": "any"}}), 409,
                 "QoSRuleParameterConflict")
    # Alone in its policy, a rule may become 'any'.
    api.delete(rules_url(pid, rt, ingress.json()[member(rt)]["id"])).raise_for_status()
    resp = api.put(rules_url(pid, rt, egress["id"]), json={member(rt): {"direction": "any"}})
    assert resp.status_code == 200 and resp.json()[member(rt)]["direction"] == "any"


def test_min_above_max_conflicts(api, policy):
    pid = policy["id"]
    post_rule(api, pid, "bandwidth_limit", {"max_kbps": 1000}).raise_for_status()
    err = assert_error(post_rule(api, pid, "minimum_bandwidth", {"min_kbps": 1001}), 409,
                       "QoSRuleParameterConflict")
    assert "1001" in err["message"] and "1000" in err["message"]
    # Other direction: no conflict. Equal: allowed.
    resp = post_rule(api, pid, "minimum_bandwidth", {"min_kbps": 5000, "direction": "ingress"})
    assert resp.status_code == 201, resp.text
    resp = post_rule(api, pid, "minimum_bandwidth", {"min_kbps": 1000})
    assert resp.status_code == 201, resp.text
    minimum = resp.json()["minimum_bandwidth_rule"]
    # Raising the minimum above the limit by PUT conflicts as well.
    assert_error(api.put(rules_url(pid, "minimum_bandwidth", minimum["id"]),
                         json={"minimum_bandwidth_rule": {"min_kbps": 2000}}), 409,
                 "QoSRuleParameterConflict")
    assert api.get(rules_url(pid, "minimum_bandwidth", minimum["id"])).json()[
        "minimum_bandwidth_rule"]["min_kbps"] == 1000


def test_max_below_min_conflicts(api, policy):
    pid = policy["id"]
    post_rule(api, pid, "minimum_bandwidth", {"min_kbps": 1000}).raise_for_status()
    assert_error(post_rule(api, pid, "bandwidth_limit", {"max_kbps": 999}), 409,
                 "QoSRuleParameterConflict")
    resp = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 10, "direction": "ingress"})
    assert resp.status_code == 201, resp.text
    ingress_limit = resp.json()["bandwidth_limit_rule"]
    # Moving the small ingress limit onto egress, where the minimum is 1000, conflicts.
    assert_error(api.put(rules_url(pid, "bandwidth_limit", ingress_limit["id"]),
                         json={"bandwidth_limit_rule": {"direction": "egress"}}), 409)
    resp = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 1000})
    assert resp.status_code == 201, resp.text
    limit = resp.json()["bandwidth_limit_rule"]
    assert_error(api.put(rules_url(pid, "bandwidth_limit", limit["id"]),
                         json={"bandwidth_limit_rule": {"max_kbps": 500}}), 409,
                 "QoSRuleParameterConflict")


# -- alias routes ---------------------------------------------------------------------

@pytest.mark.parametrize("rule_type", TYPES)
def test_alias_routes(api, policy, rule_type):
    pid = policy["id"]
    rule = post_rule(api, pid, rule_type, RULES[rule_type]).json()[member(rule_type)]
    alias = f"alias_{member(rule_type)}"

    resp = api.get(alias_url(rule_type, rule["id"]))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {alias: rule}
    resp = api.get(alias_url(rule_type, rule["id"]), params={"fields": "id"})
    assert resp.json() == {alias: {"id": rule["id"]}}

    field = REQUIRED[rule_type]
    value = 46 if rule_type == "dscp_marking" else 4321
    resp = api.put(alias_url(rule_type, rule["id"]), json={alias: {field: value}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {alias: {**rule, field: value}}
    assert api.get(rules_url(pid, rule_type, rule["id"])).json()[member(rule_type)][field] \
        == value
    assert api.get(f"{POLICIES}/{pid}").json()["policy"]["revision_number"] == 2

    # The root key is alias_<type>_rule, not <type>_rule.
    assert_error(api.put(alias_url(rule_type, rule["id"]),
                         json={member(rule_type): {field: value}}), 400,
                 contains=f"Unable to find '{alias}'")
    assert_error(api.put(alias_url(rule_type, rule["id"]), json={alias: {"foo": 1}}), 400)
    assert_error(api.put(alias_url(rule_type, rule["id"]), json={alias: {field: None}}), 400)

    assert api.delete(alias_url(rule_type, rule["id"])).status_code == 204
    assert_error(api.get(alias_url(rule_type, rule["id"])), 404, "QosRuleNotFound")
    assert_error(api.put(alias_url(rule_type, rule["id"]), json={alias: {field: value}}), 404,
                 "QosRuleNotFound")
    assert_error(api.delete(alias_url(rule_type, rule["id"])), 404, "QosRuleNotFound")
    assert api.get(rules_url(pid, rule_type)).json() == {collection(rule_type): []}


def test_alias_put_conflicts(api, policy):
    pid = policy["id"]
    post_rule(api, pid, "minimum_bandwidth", {"min_kbps": 1000}).raise_for_status()
    limit = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 2000}).json()[
        "bandwidth_limit_rule"]
    assert_error(api.put(alias_url("bandwidth_limit", limit["id"]),
                         json={"alias_bandwidth_limit_rule": {"max_kbps": 10}}), 409,
                 "QoSRuleParameterConflict")


# -- lists of rules -------------------------------------------------------------------

def test_rule_list_filters_and_fields(api, policy):
    pid = policy["id"]
    egress = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 100}).json()[
        "bandwidth_limit_rule"]
    ingress = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 200, "direction": "ingress"}
                        ).json()["bandwidth_limit_rule"]
    url = rules_url(pid, "bandwidth_limit")

    def ids(**params):
        resp = api.get(url, params=params)
        assert resp.status_code == 200, resp.text
        return [r["id"] for r in resp.json()["bandwidth_limit_rules"]]

    assert sorted(ids()) == sorted([egress["id"], ingress["id"]])
    assert ids(direction="ingress") == [ingress["id"]]
    assert ids(max_kbps=100) == [egress["id"]]
    assert ids(max_kbps="200", direction="ingress") == [ingress["id"]]
    assert ids(max_kbps=300) == []
    assert ids(id=egress["id"]) == [egress["id"]]
    assert ids(sort_key="max_kbps", sort_dir="desc") == [ingress["id"], egress["id"]]
    assert_error(api.get(url, params={"min_kbps": 1}), 400)
    assert_error(api.get(url, params={"bogus": 1}), 400)
    assert_error(api.get(url, params={"max_kbps": "lots"}), 400)
    assert_error(api.get(url, params={"direction": "sideways"}), 400)
    resp = api.get(url, params={"fields": ["max_kbps"], "direction": "egress"})
    assert resp.json() == {"bandwidth_limit_rules": [{"max_kbps": 100}]}


def test_rule_update_if_match(api, policy):
    pid = policy["id"]
    rule = post_rule(api, pid, "bandwidth_limit", {"max_kbps": 100}).json()[
        "bandwidth_limit_rule"]
    url = rules_url(pid, "bandwidth_limit", rule["id"])
    # Neutron checks If-Match against the revision of the policy that holds the rule.
    assert_error(api.put(url, json={"bandwidth_limit_rule": {"max_kbps": 1}},
                         headers={"If-Match": "revision_number=0"}), 412)
    resp = api.put(url, json={"bandwidth_limit_rule": {"max_kbps": 1}},
                   headers={"If-Match": "revision_number=1"})
    assert resp.status_code == 200, resp.text
