"""Who may do what, with real Keystone tokens, as Neutron 29 answers it (the recorded
conversation in shared/reference/neutron-conversation: steps cited as #N): admin, manager,
member and reader of two projects, alpha (which owns the policies) and beta."""
from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.keystone
POLICIES = "/v2.0/qos/policies"
ROLES = ("admin", "manager", "member", "reader")


@pytest.fixture(scope="module")
def world(as_user):
    """alpha's private policy (with a rule) and shared policy, and a network of alpha's."""
    mgr = as_user("alpha-manager")
    private = mgr.post(POLICIES, json={"policy": {"name": "private"}}).json()["policy"]
    shared = mgr.post(POLICIES, json={"policy": {"name": "shared", "shared": True}}
                      ).json()["policy"]
    rule = mgr.post(f"{POLICIES}/{private['id']}/bandwidth_limit_rules",
                    json={"bandwidth_limit_rule": {"max_kbps": 1000}}).json()
    net = mgr.post("/v2.0/networks", json={"network": {"name": "m"}}).json()["network"]
    yield {"private": private["id"], "shared": shared["id"],
           "rule": rule["bandwidth_limit_rule"]["id"], "net": net["id"]}
    mgr.delete(f"/v2.0/networks/{net['id']}")
    for pid in (private["id"], shared["id"]):
        as_user("alpha-admin").delete(f"{POLICIES}/{pid}")


def status(resp, expected: int, rule: str | None = None) -> None:
    assert resp.status_code == expected, (resp.request.method, resp.request.url, resp.text)
    if rule is not None:   # Neutron's words for a policy refusal (#149)
        rule = rule if rule.startswith("(") else f"rule:{rule}"
        assert resp.json()["NeutronError"] == {
            "type": "PolicyNotAuthorized", "message": f"{rule} is disallowed by policy",
            "detail": ""}


@pytest.mark.parametrize("role,expected", [("admin", 201), ("manager", 201),
                                           ("member", 403), ("reader", 403)])
def test_create_policy(as_user, role, expected):
    """#149, #160: a project's manager (and admin) create policies, member and reader not."""
    c = as_user(f"beta-{role}")
    resp = c.post(POLICIES, json={"policy": {"name": "m-" + uuid.uuid4().hex[:6]}})
    status(resp, expected, None if expected == 201 else "create_policy")
    if expected == 201:
        assert c.delete(f"{POLICIES}/{resp.json()['policy']['id']}").status_code == 204


# (project, role) -> GET, PUT, POST a rule, PUT its rule, on alpha's private policy
PRIVATE = {
    ("alpha", "admin"): (200, 200, 201, 200), ("alpha", "manager"): (200, 200, 201, 200),
    ("alpha", "member"): (200, 403, 403, 403),     # #148, #150, #154, #155
    ("alpha", "reader"): (200, 403, 403, 403),
    ("beta", "admin"): (200, 200, 201, 200),       # admin is the role, whatever the project
    # #167, #170: another project does not see it. #169: a rule action is authorized before
    # the policy is looked up, so only a manager gets as far as the 404.
    ("beta", "manager"): (404, 404, 404, 404), ("beta", "member"): (404, 404, 403, 403),
    ("beta", "reader"): (404, 404, 403, 403),
}


@pytest.mark.parametrize("who", sorted(PRIVATE), ids="-".join)
def test_private_policy(as_user, world, who):
    c = as_user("-".join(who))
    get, put, post_rule, put_rule = PRIVATE[who]
    url = f"{POLICIES}/{world['private']}"
    status(c.get(url), get)
    status(c.put(url, json={"policy": {"description": who[1]}}), put,
           "update_policy" if put == 403 else None)
    resp = c.post(f"{url}/dscp_marking_rules", json={"dscp_marking_rule": {"dscp_mark": 8}})
    status(resp, post_rule, "create_policy_dscp_marking_rule" if post_rule == 403 else None)
    if post_rule == 201:
        assert c.delete(f"{url}/dscp_marking_rules/"
                        f"{resp.json()['dscp_marking_rule']['id']}").status_code == 204
    status(c.put(f"{url}/bandwidth_limit_rules/{world['rule']}",
                 json={"bandwidth_limit_rule": {"max_kbps": 2000}}), put_rule,
           "update_policy_bandwidth_limit_rule" if put_rule == 403 else None)


@pytest.mark.parametrize("role", ROLES[1:])
def test_shared_policy_of_another_project(as_user, world, role):
    """#177-#180: seen and bindable, not changed: PUT 404, a new rule 403."""
    c = as_user(f"beta-{role}")
    url = f"{POLICIES}/{world['shared']}"
    resp = c.get(url)
    assert resp.status_code == 200 and resp.json()["policy"]["shared"] is True
    status(c.put(url, json={"policy": {"name": "z"}}), 404)
    status(c.post(f"{url}/dscp_marking_rules", json={"dscp_marking_rule": {"dscp_mark": 8}}),
           403, "create_policy_dscp_marking_rule")


def test_sharing_through_rbac(as_user, world, keystone_cloud):
    """create_rbac_policy: a member of the owner may share; a reader may not; another
    project cannot share what it does not own (400, as Neutron); #183, #185: seen while
    shared only."""
    body = {"rbac_policy": {"object_type": "qos_policy", "object_id": world["private"],
                            "action": "access_as_shared",
                            "target_tenant": keystone_cloud.project_ids["beta"]}}
    from_beta = as_user("beta-reader")
    status(as_user("alpha-reader").post("/v2.0/rbac-policies", json=body), 403,
           "create_rbac_policy")
    resp = as_user("beta-member").post("/v2.0/rbac-policies", json=body)
    status(resp, 400)   # Neutron's InvalidInput for sharing what the caller does not own
    assert resp.json()["NeutronError"]["type"] == "InvalidInput"
    resp = as_user("alpha-member").post("/v2.0/rbac-policies", json=body)
    status(resp, 201)
    entry = resp.json()["rbac_policy"]["id"]
    status(from_beta.get(f"{POLICIES}/{world['private']}"), 200)
    status(as_user("alpha-reader").delete(f"/v2.0/rbac-policies/{entry}"), 403,
           "delete_rbac_policy")
    status(as_user("alpha-member").delete(f"/v2.0/rbac-policies/{entry}"), 204)
    status(from_beta.get(f"{POLICIES}/{world['private']}"), 404)


@pytest.mark.parametrize("role", ROLES)
def test_rule_type_details_are_for_admins(as_user, role):
    """#3, #12: every role lists the rule types; only an admin sees a type's drivers."""
    c = as_user(f"alpha-{role}")
    assert c.get("/v2.0/qos/rule-types").status_code == 200
    resp = c.get("/v2.0/qos/rule-types/bandwidth_limit")
    status(resp, 200 if role == "admin" else 403)
    if role == "admin":
        assert resp.json()["rule_type"]["drivers"]


@pytest.mark.parametrize("role", ROLES)
def test_binding_attributes(as_user, world, role):
    """create_port:binding:host_id / binding:profile: admin (or service) only; a member
    binds a QoS policy to its port but does not choose the host."""
    c = as_user(f"alpha-{role}")
    writes = role != "reader"
    resp = c.post("/v2.0/ports", json={"port": {"network_id": world["net"],
                                                "qos_policy_id": world["private"]}})
    status(resp, 201 if writes else 403, None if writes else "create_port")
    for attr, value in (("binding:host_id", "h1"), ("binding:profile", {"k": "v"})):
        resp2 = c.post("/v2.0/ports", json={"port": {"network_id": world["net"], attr: value}})
        if role == "admin":
            status(resp2, 201)
            c.delete(f"/v2.0/ports/{resp2.json()['port']['id']}")
        else:
            # Neutron's wording: the base rule and-ed with the attribute's
            status(resp2, 403, f"(rule:create_port and rule:create_port:{attr})"
                   if writes else "create_port")
    if writes:
        port = resp.json()["port"]["id"]
        status(c.put(f"/v2.0/ports/{port}", json={"port": {"binding:host_id": "h2"}}),
               200 if role == "admin" else 403,
               None if role == "admin"
               else "(rule:update_port and rule:update_port:binding:host_id)")
        status(c.delete(f"/v2.0/ports/{port}"), 204)


def test_delete_policy(as_user):
    mgr = as_user("alpha-manager")
    pid = mgr.post(POLICIES, json={"policy": {"name": "doomed"}}).json()["policy"]["id"]
    status(as_user("alpha-member").delete(f"{POLICIES}/{pid}"), 403, "delete_policy")
    status(as_user("beta-manager").delete(f"{POLICIES}/{pid}"), 404)
    status(mgr.delete(f"{POLICIES}/{pid}"), 204)
