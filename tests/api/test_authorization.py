"""Who may do what (Neutron's default policy): admin, a project's manager, member and reader,
and another project that sees a shared policy or nothing at all."""
from __future__ import annotations

import pytest

from tests.api.conftest import (POLICIES, RULES, alias_url, assert_error, member, new_project,
                                rules_url, who)


@pytest.fixture
def world(new_policy):
    """A project with a private and a shared policy, each with a bandwidth limit rule."""
    project = new_project()
    private = new_policy(project_id=project, name="private")
    shared = new_policy(project_id=project, name="shared", shared=True)
    rules = {p["id"]: new_policy.rule(p["id"], "bandwidth_limit") for p in (private, shared)}
    return project, private, shared, rules


def test_manager_manages_own_project(api, new_policy):
    project = new_project()
    manager = who(project, "manager", "member", "reader")
    policy = new_policy(headers=manager, name="mine")
    assert policy["project_id"] == project
    url = f"{POLICIES}/{policy['id']}"
    for rule_type, body in RULES.items():
        resp = api.post(rules_url(policy["id"], rule_type), json={member(rule_type): body},
                        headers=manager)
        assert resp.status_code == 201, resp.text
        rule = resp.json()[member(rule_type)]
        resp = api.put(rules_url(policy["id"], rule_type, rule["id"]),
                       json={member(rule_type): body}, headers=manager)
        assert resp.status_code == 200, resp.text
        resp = api.put(alias_url(rule_type, rule["id"]),
                       json={f"alias_{member(rule_type)}": body}, headers=manager)
        assert resp.status_code == 200, resp.text
        assert api.delete(rules_url(policy["id"], rule_type, rule["id"]),
                          headers=manager).status_code == 204
    resp = api.put(url, json={"policy": {"name": "renamed", "shared": True,
                                         "is_default": True}}, headers=manager)
    assert resp.status_code == 200, resp.text
    assert api.delete(url, headers=manager).status_code == 204


@pytest.mark.parametrize("roles", [("member",), ("reader",), ("member", "reader"), ()])
def test_member_and_reader_only_read(api, world, roles):
    project, private, shared, rules = world
    h = who(project, *roles)
    for policy in (private, shared):
        pid = policy["id"]
        rule_id = rules[pid]["id"]
        assert api.get(f"{POLICIES}/{pid}", headers=h).status_code == 200
        assert api.get(rules_url(pid, "bandwidth_limit"), headers=h).status_code == 200
        assert api.get(rules_url(pid, "bandwidth_limit", rule_id), headers=h).status_code == 200
        assert api.get(alias_url("bandwidth_limit", rule_id), headers=h).status_code == 200

        assert_error(api.put(f"{POLICIES}/{pid}", json={"policy": {"name": "x"}}, headers=h),
                     403)
        assert_error(api.delete(f"{POLICIES}/{pid}", headers=h), 403)
        assert_error(api.post(rules_url(pid, "dscp_marking"),
                              json={"dscp_marking_rule": {"dscp_mark": 8}}, headers=h), 403)
        assert_error(api.put(rules_url(pid, "bandwidth_limit", rule_id),
                             json={"bandwidth_limit_rule": {"max_kbps": 1}}, headers=h), 403)
        assert_error(api.put(alias_url("bandwidth_limit", rule_id),
                             json={"alias_bandwidth_limit_rule": {"max_kbps": 1}}, headers=h),
                     403)
        assert_error(api.delete(rules_url(pid, "bandwidth_limit", rule_id), headers=h), 403)
        assert_error(api.delete(alias_url("bandwidth_limit", rule_id), headers=h), 403)
    assert_error(api.post(POLICIES, json={"policy": {"name": "no"}}, headers=h), 403)
    # Nothing changed.
    for policy in (private, shared):
        assert api.get(f"{POLICIES}/{policy['id']}").json()["policy"]["revision_number"] == 1


@pytest.mark.parametrize("roles", [("member",), ("manager", "member"), ("reader",)])
def test_other_project_sees_shared_but_may_not_change_it(api, world, roles):
    _, private, shared, rules = world
    other = who(new_project(), *roles)
    pid, rule_id = shared["id"], rules[shared["id"]]["id"]

    resp = api.get(f"{POLICIES}/{pid}", headers=other)
    assert resp.status_code == 200 and resp.json()["policy"]["shared"] is True
    assert [r["id"] for r in resp.json()["policy"]["rules"]] == [rule_id]
    assert api.get(rules_url(pid, "bandwidth_limit", rule_id), headers=other).status_code == 200
    assert api.get(alias_url("bandwidth_limit", rule_id), headers=other).status_code == 200
    listed = {p["id"] for p in api.get(POLICIES, headers=other).json()["policies"]}
    assert pid in listed and private["id"] not in listed

    # Visible but not its own: Neutron answers a bare 404 (the policy check failed on a
    # visible object), not QosPolicyNotFound.
    assert_error(api.put(f"{POLICIES}/{pid}", json={"policy": {"name": "x"}}, headers=other),
                 404, "HTTPNotFound")
    assert_error(api.delete(f"{POLICIES}/{pid}", headers=other), 404, "HTTPNotFound")
    assert_error(api.post(rules_url(pid, "dscp_marking"),
                          json={"dscp_marking_rule": {"dscp_mark": 8}}, headers=other), 403,
                 "PolicyNotAuthorized")
    assert_error(api.put(rules_url(pid, "bandwidth_limit", rule_id),
                         json={"bandwidth_limit_rule": {"max_kbps": 1}}, headers=other), 403)
    assert_error(api.delete(rules_url(pid, "bandwidth_limit", rule_id), headers=other), 403)
    assert_error(api.delete(alias_url("bandwidth_limit", rule_id), headers=other), 403)
    assert api.get(f"{POLICIES}/{pid}").json()["policy"]["revision_number"] == 1


@pytest.mark.parametrize("roles", [("member",), ("manager", "member"), ("reader",)])
def test_other_project_cannot_see_private(api, world, roles):
    _, private, _, rules = world
    other = who(new_project(), *roles)
    pid, rule_id = private["id"], rules[private["id"]]["id"]
    assert_error(api.get(f"{POLICIES}/{pid}", headers=other), 404, "QosPolicyNotFound")
    assert_error(api.put(f"{POLICIES}/{pid}", json={"policy": {"name": "x"}}, headers=other),
                 404, "QosPolicyNotFound")
    assert_error(api.delete(f"{POLICIES}/{pid}", headers=other), 404, "QosPolicyNotFound")
    assert_error(api.get(rules_url(pid, "bandwidth_limit"), headers=other), 404,
                 "QosPolicyNotFound")
    assert_error(api.get(rules_url(pid, "bandwidth_limit", rule_id), headers=other), 404,
                 "QosPolicyNotFound")
    # Neutron authorizes a rule change before it looks the policy up: without the manager
    # role that is a 403 even here; a manager learns that the policy is not found.
    status, type_ = ((404, "QosPolicyNotFound") if "manager" in roles
                     else (403, "PolicyNotAuthorized"))
    assert_error(api.post(rules_url(pid, "dscp_marking"),
                          json={"dscp_marking_rule": {"dscp_mark": 8}}, headers=other), status,
                 type_)
    assert_error(api.put(rules_url(pid, "bandwidth_limit", rule_id),
                         json={"bandwidth_limit_rule": {"max_kbps": 1}}, headers=other), status,
                 type_)
    assert_error(api.delete(rules_url(pid, "bandwidth_limit", rule_id), headers=other), status,
                 type_)
    for method in ("GET", "DELETE"):
        assert_error(api.request(method, alias_url("bandwidth_limit", rule_id), headers=other),
                     404, "QosRuleNotFound")
    assert_error(api.put(alias_url("bandwidth_limit", rule_id),
                         json={"alias_bandwidth_limit_rule": {"max_kbps": 1}}, headers=other),
                 404, "QosRuleNotFound")
    assert_error(api.get(f"{POLICIES}/{pid}", params={"fields": "id"}, headers=other), 404)
    assert pid not in {p["id"] for p in api.get(POLICIES, headers=other).json()["policies"]}


def test_unsharing_hides_it_again(api, world):
    _, _, shared, _ = world
    other = who(new_project(), "member")
    assert api.get(f"{POLICIES}/{shared['id']}", headers=other).status_code == 200
    resp = api.put(f"{POLICIES}/{shared['id']}", json={"policy": {"shared": False}})
    assert resp.status_code == 200 and resp.json()["policy"]["shared"] is False
    assert_error(api.get(f"{POLICIES}/{shared['id']}", headers=other), 404)


def test_admin_of_another_project_may_do_anything(api, world):
    _, private, _, rules = world
    admin = who(new_project(), "admin")
    pid = private["id"]
    assert api.get(f"{POLICIES}/{pid}", headers=admin).status_code == 200
    resp = api.put(f"{POLICIES}/{pid}", json={"policy": {"description": "by admin"}},
                   headers=admin)
    assert resp.status_code == 200, resp.text
    resp = api.put(rules_url(pid, "bandwidth_limit", rules[pid]["id"]),
                   json={"bandwidth_limit_rule": {"max_kbps": 5}}, headers=admin)
    assert resp.status_code == 200, resp.text


def test_manager_of_another_project_may_not_create_for_this_one(api, world):
    project, _, _, _ = world
    assert_error(api.post(POLICIES, json={"policy": {"project_id": project}},
                          headers=who(new_project(), "manager")), 400)


def test_rule_type_details_are_admin_only(api):
    for roles in (("member",), ("manager", "member"), ("reader",)):
        assert_error(api.get("/v2.0/qos/rule-types/bandwidth_limit",
                             headers=who(new_project(), *roles)), 403)
        # The list is for everyone.
        resp = api.get("/v2.0/qos/rule-types", headers=who(new_project(), *roles))
        assert resp.status_code == 200 and resp.json()["rule_types"]
    assert api.get("/v2.0/qos/rule-types/bandwidth_limit",
                   headers=who(new_project(), "admin")).status_code == 200


def test_roles_header_is_case_and_space_tolerant(api, new_policy):
    project = new_project()
    resp = api.post(POLICIES, json={"policy": {"name": "x"}},
                    headers={"X-Project-Id": project, "X-Roles": "Member , MANAGER"})
    assert resp.status_code == 201, resp.text
    new_policy.created.append(resp.json()["policy"]["id"])
    assert resp.json()["policy"]["project_id"] == project
