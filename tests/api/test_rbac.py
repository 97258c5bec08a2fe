"""RBAC entries on QoS policies as Neutron shapes and judges them: one object shape in a
create, a show and a list; wildcard sharing; retargeting; who may share what."""
from __future__ import annotations

from tests.api.conftest import POLICIES, assert_error, new_project, who
from tests.api.helpers_core import RBAC, core, ok

__all__ = ["core"]  # the fixture, imported for pytest


def test_created_shown_and_listed_entry_are_one_object(api, core, new_policy):
    owner, target = new_project(), new_project()
    policy = new_policy(project_id=owner)
    created = core.rbac("qos_policy", policy["id"], target)
    assert created["target_tenant"] == created["target_project_id"] == target
    assert set(created) == {"id", "project_id", "tenant_id", "object_type", "object_id",
                            "action", "target_tenant", "target_project_id"}
    shown = ok(api.get(f"{RBAC}/{created['id']}"))["rbac_policy"]
    listed = ok(api.get(RBAC, params={"object_id": policy["id"]}))["rbac_policies"]
    assert shown == created and listed == [created]
    # Filtering by either name of the target finds it.
    for key in ("target_tenant", "target_project_id"):
        found = ok(api.get(RBAC, params={key: target}))["rbac_policies"]
        assert [e["id"] for e in found] == [created["id"]]


def test_target_project_id_is_accepted_as_input(api, core, new_policy):
    target = new_project()
    policy = new_policy(project_id=new_project())
    entry = ok(api.post(RBAC, json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": policy["id"], "action": "access_as_shared",
        "target_project_id": target}}), 201)["rbac_policy"]
    core.created["rbac"].append(entry["id"])
    assert entry["target_tenant"] == target


def test_wildcard_sharing(api, core, new_policy):
    owner = new_project()
    policy = new_policy(project_id=owner)
    stranger = who(new_project(), "member")
    assert_error(api.get(f"{POLICIES}/{policy['id']}", headers=stranger), 404)
    # Sharing with everyone by RBAC is an admin's; the owner's manager says shared=true.
    assert_error(api.post(RBAC, headers=who(owner, "manager", "member"), json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": policy["id"], "action": "access_as_shared",
        "target_tenant": "*"}}), 403, "PolicyNotAuthorized",
        contains="rule:create_rbac_policy:target_tenant is disallowed by policy")
    entry = core.rbac("qos_policy", policy["id"], "*")
    assert entry["target_tenant"] == "*"
    seen = ok(api.get(f"{POLICIES}/{policy['id']}", headers=stranger))["policy"]
    assert seen["shared"] is True
    assert ok(api.get(f"{POLICIES}/{policy['id']}"))["policy"]["shared"] is True
    # The same wildcard twice is a duplicate.
    assert_error(api.post(RBAC, json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": policy["id"], "action": "access_as_shared",
        "target_tenant": "*"}}), 409, "DuplicateRbacPolicy")
    ok(api.delete(f"{RBAC}/{entry['id']}"), 204)
    core.created["rbac"].remove(entry["id"])
    assert_error(api.get(f"{POLICIES}/{policy['id']}", headers=stranger), 404)


def test_retargeting_an_entry(api, core, new_policy):
    owner, first, second = new_project(), new_project(), new_project()
    policy = new_policy(project_id=owner)
    owner_h = who(owner, "manager", "member")
    entry = core.rbac("qos_policy", policy["id"], first)
    other = core.rbac("qos_policy", policy["id"], second, headers=owner_h)
    url = f"{RBAC}/{entry['id']}"
    # Onto a target another entry already has: a duplicate, nothing changed.
    assert_error(api.put(url, json={"rbac_policy": {"target_tenant": second}}), 409,
                 "DuplicateRbacPolicy")
    assert ok(api.get(url))["rbac_policy"]["target_tenant"] == first
    third = new_project()
    moved = ok(api.put(url, json={"rbac_policy": {"target_tenant": third}}))["rbac_policy"]
    assert moved["target_tenant"] == moved["target_project_id"] == third
    assert ok(api.get(f"{POLICIES}/{policy['id']}", headers=who(third, "member")))
    assert_error(api.get(f"{POLICIES}/{policy['id']}", headers=who(first, "member")), 404)
    # A non-admin may not widen its entry to everyone; the object and action stay put.
    assert_error(api.put(f"{RBAC}/{other['id']}", headers=owner_h,
                         json={"rbac_policy": {"target_tenant": "*"}}), 403,
                 "PolicyNotAuthorized")
    assert_error(api.put(url, json={"rbac_policy": {"object_id": policy["id"]}}), 400)


def test_sharing_what_the_caller_does_not_own(api, core, new_policy):
    owner, thief = new_project(), new_project()
    private = new_policy(project_id=owner)
    shared = new_policy(project_id=owner, shared=True)
    for policy in (private, shared):   # invisible, or visible but not its own
        err = assert_error(api.post(RBAC, headers=who(thief, "manager", "member"), json={
            "rbac_policy": {"object_type": "qos_policy", "object_id": policy["id"],
                            "action": "access_as_shared", "target_tenant": thief}}),
            400, "InvalidInput")
        assert "Only admins can manipulate policies on objects they do not own" in \
            err["message"]
    assert_error(api.post(RBAC, json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": "9f1c2d3e-0000-4000-8000-000000000000",
        "action": "access_as_shared", "target_tenant": thief}}), 404, "RbacPolicyNotFound")
