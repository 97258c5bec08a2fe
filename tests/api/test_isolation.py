"""Three projects side by side: no listing, show, update, delete or bind crosses a project
boundary, except through sharing (shared=true or an RBAC entry for one project)."""
from __future__ import annotations

import pytest

from tests.api.conftest import POLICIES, assert_error, new_project, rules_url, who
from tests.api.helpers_core import (FLOATINGIPS, NETWORKS, PORTS, RBAC, ROUTERS, SUBNETS,
                                    core, ok)

__all__ = ["core"]

COLLECTIONS = {  # path: (list key, member key)
    NETWORKS: ("networks", "network"),
    SUBNETS: ("subnets", "subnet"),
    PORTS: ("ports", "port"),
    ROUTERS: ("routers", "router"),
    FLOATINGIPS: ("floatingips", "floatingip"),
    POLICIES: ("policies", "policy"),
    RBAC: ("rbac_policies", "rbac_policy"),
}


@pytest.fixture
def world(api, core, new_policy):
    """Projects a, b, c, each with a policy, network, subnet, port, router (with an
    interface and a gateway) and a floating IP on an external network the admin made."""
    ext, _ = core.external_network()
    projects = {}
    for name in "abc":
        project = new_project()
        manager, member_ = who(project, "manager", "member"), who(project, "member")
        policy = new_policy(headers=manager, name=f"policy-{name}")
        new_policy.rule(policy["id"], "bandwidth_limit", headers=manager)
        net = core.network(headers=member_, name=f"net-{name}")
        subnet = core.subnet(net, headers=member_)
        port = core.port(net, headers=member_, qos_policy_id=policy["id"])
        router = core.router(headers=member_,
                             external_gateway_info={"network_id": ext["id"]})
        core.add_interface(router, headers=member_, subnet_id=subnet["id"])
        fip = core.floatingip(ext, headers=member_, port_id=port["id"])
        assert fip["router_id"] == router["id"]
        entry = core.rbac("network", net["id"], new_project(), headers=member_)
        projects[name] = {
            "project": project, "manager": manager, "member": member_,
            "objects": {POLICIES: policy, NETWORKS: net, SUBNETS: subnet, PORTS: port,
                        ROUTERS: router, FLOATINGIPS: fip, RBAC: entry}}
    return ext, projects


def _ids(api, path, headers, **params):
    key = COLLECTIONS[path][0]
    return {o["id"] for o in ok(api.get(path, headers=headers, params=params))[key]}


def test_lists_show_only_own_objects(api, world):
    ext, projects = world
    for name, me in projects.items():
        others = [p for n, p in projects.items() if n != name]
        for path in COLLECTIONS:
            seen = _ids(api, path, me["member"])
            assert me["objects"][path]["id"] in seen, (name, path)
            for other in others:
                assert other["objects"][path]["id"] not in seen, (name, path)
            # Filters do not reach other projects' objects either.
            for other in others:
                assert _ids(api, path, me["member"], project_id=other["project"]) == set()
                assert _ids(api, path, me["member"], id=other["objects"][path]["id"]) == set()
        # Everyone sees the external network, but not its subnet's owner's other things.
        assert ext["id"] in _ids(api, NETWORKS, me["member"])
        # Ports listed are the caller's own (not the router's or floating IP's).
        ports = ok(api.get(PORTS, headers=me["member"]))["ports"]
        assert {p["project_id"] for p in ports} == {me["project"]}


def test_show_update_delete_cross_project_is_404(api, world):
    _, projects = world
    for name, me in projects.items():
        for other_name, other in projects.items():
            if other_name == name:
                continue
            for path, (_, root) in COLLECTIONS.items():
                obj = other["objects"][path]
                url = f"{path}/{obj['id']}"
                for headers in (me["member"], me["manager"]):
                    assert_error(api.get(url, headers=headers), 404)
                    body = {"name": "stolen"} if path not in (RBAC, FLOATINGIPS) else \
                        {"description": "stolen"} if path == FLOATINGIPS else \
                        {"target_tenant": me["project"]}
                    assert_error(api.put(url, headers=headers, json={root: body}), 404)
                    assert_error(api.delete(url, headers=headers), 404)
                if path != RBAC:
                    assert_error(api.get(url + "/tags", headers=me["member"]), 404)
                    assert_error(api.put(url + "/tags/mine", headers=me["member"]), 404)
            # Rules of another project's policy.
            policy = other["objects"][POLICIES]
            assert_error(api.get(rules_url(policy["id"], "bandwidth_limit"),
                                 headers=me["member"]), 404)
            assert_error(api.post(rules_url(policy["id"], "dscp_marking"),
                                  headers=me["manager"],
                                  json={"dscp_marking_rule": {"dscp_mark": 26}}), 404)
    # Nothing changed.
    for me in projects.values():
        for path, (_, root) in COLLECTIONS.items():
            obj = ok(api.get(f"{path}/{me['objects'][path]['id']}", headers=me["member"]))[root]
            assert obj.get("name", "") != "stolen" and obj.get("description", "") != "stolen"


def test_no_binding_across_projects(api, core, world):
    ext, projects = world
    a, b = projects["a"], projects["b"]
    mine = b["member"]
    a_policy, a_net, a_subnet, a_port, a_router = (
        a["objects"][k] for k in (POLICIES, NETWORKS, SUBNETS, PORTS, ROUTERS))
    b_net, b_port, b_router, b_fip = (b["objects"][k]
                                      for k in (NETWORKS, PORTS, ROUTERS, FLOATINGIPS))

    # Another project's policy on my port, network, floating IP, router gateway.
    for path, obj, root, body in (
            (PORTS, b_port, "port", {"qos_policy_id": a_policy["id"]}),
            (NETWORKS, b_net, "network", {"qos_policy_id": a_policy["id"]}),
            (FLOATINGIPS, b_fip, "floatingip", {"qos_policy_id": a_policy["id"]}),
            (ROUTERS, b_router, "router", {"external_gateway_info": {
                "network_id": ext["id"], "qos_policy_id": a_policy["id"]}})):
        assert_error(api.put(f"{path}/{obj['id']}", headers=mine, json={root: body}),
                     404, "QosPolicyNotFound")
    assert_error(api.post(NETWORKS, headers=mine,
                          json={"network": {"qos_policy_id": a_policy["id"]}}), 404)
    # My things on another project's network, subnet, port, router.
    assert_error(api.post(PORTS, headers=mine, json={"port": {"network_id": a_net["id"]}}),
                 404, "NetworkNotFound")
    assert_error(api.post(SUBNETS, headers=mine, json={"subnet": {
        "network_id": a_net["id"], "ip_version": 4, "cidr": "198.18.77.0/24"}}), 404)
    assert_error(api.put(f"{ROUTERS}/{b_router['id']}/add_router_interface", headers=mine,
                         json={"subnet_id": a_subnet["id"]}), 404)
    assert_error(api.put(f"{ROUTERS}/{a_router['id']}/add_router_interface", headers=mine,
                         json={"subnet_id": b["objects"][SUBNETS]["id"]}), 404)
    assert_error(api.put(f"{FLOATINGIPS}/{b_fip['id']}", headers=mine,
                         json={"floatingip": {"port_id": a_port["id"]}}), 404)
    assert_error(api.post(FLOATINGIPS, headers=mine, json={"floatingip": {
        "floating_network_id": ext["id"], "port_id": a_port["id"]}}), 404)
    # Sharing another project's things, as Neutron refuses it: only admins manipulate
    # policies on objects they do not own; sharing with everyone by RBAC is an admin's.
    assert_error(api.post(RBAC, headers=mine, json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": a_policy["id"],
        "action": "access_as_shared", "target_tenant": b["project"]}}), 400, "InvalidInput",
        contains="Only admins can manipulate policies on objects they do not own")
    assert_error(api.post(RBAC, headers=mine, json={"rbac_policy": {
        "object_type": "network", "object_id": a_net["id"],
        "action": "access_as_shared", "target_tenant": b["project"]}}), 400, "InvalidInput")
    assert_error(api.post(RBAC, headers=mine, json={"rbac_policy": {
        "object_type": "network", "object_id": a_net["id"],
        "action": "access_as_shared", "target_tenant": "*"}}), 403, "PolicyNotAuthorized")
    # Creating in another project's name.
    for path, root, body in ((NETWORKS, "network", {}), (POLICIES, "policy", {}),
                             (ROUTERS, "router", {})):
        assert_error(api.post(path, headers=b["manager"],
                              json={root: {**body, "project_id": a["project"]}}), 400)
    # Nothing was bound.
    assert ok(api.get(f"{PORTS}/{b_port['id']}", headers=mine))["port"]["qos_policy_id"] == \
        b["objects"][POLICIES]["id"]
    assert ok(api.get(f"{NETWORKS}/{b_net['id']}", headers=mine))["network"][
        "qos_policy_id"] is None


def test_sharing_opens_exactly_what_it_says(api, core, world):
    _, projects = world
    a, b, c = projects["a"], projects["b"], projects["c"]
    policy = a["objects"][POLICIES]
    net = a["objects"][NETWORKS]
    subnet = a["objects"][SUBNETS]

    # a shares its policy with b only.
    core.rbac("qos_policy", policy["id"], b["project"], headers=a["manager"])
    assert policy["id"] in _ids(api, POLICIES, b["member"])
    assert policy["id"] not in _ids(api, POLICIES, c["member"])
    shown = ok(api.get(f"{POLICIES}/{policy['id']}", headers=b["member"]))["policy"]
    # Neutron shows `shared` to the project it is shared with, not to its owner.
    assert shown["shared"] is True and len(shown["rules"]) == 1
    assert ok(api.get(f"{POLICIES}/{policy['id']}", headers=a["member"]))["policy"][
        "shared"] is False
    assert_error(api.get(f"{POLICIES}/{policy['id']}", headers=c["member"]), 404)
    ok(api.put(f"{PORTS}/{b['objects'][PORTS]['id']}", headers=b["member"],
               json={"port": {"qos_policy_id": policy["id"]}}))
    assert_error(api.put(f"{PORTS}/{c['objects'][PORTS]['id']}", headers=c["member"],
                         json={"port": {"qos_policy_id": policy["id"]}}), 404)
    # Seeing is not owning: b may not change it or its rules.
    assert_error(api.put(f"{POLICIES}/{policy['id']}", headers=b["manager"],
                         json={"policy": {"name": "mine now"}}), 404)
    assert_error(api.delete(f"{POLICIES}/{policy['id']}", headers=b["manager"]), 404)
    assert_error(api.post(rules_url(policy["id"], "dscp_marking"), headers=b["manager"],
                          json={"dscp_marking_rule": {"dscp_mark": 26}}), 403)
    # b's use of it is not a's to see: b's port stays invisible to a.
    assert_error(api.get(f"{PORTS}/{b['objects'][PORTS]['id']}", headers=a["member"]), 404)
    # ...but a cannot strand it either.
    entries = ok(api.get(RBAC, headers=a["manager"],
                         params={"object_id": policy["id"]}))["rbac_policies"]
    assert [e["target_tenant"] for e in entries] == [b["project"]]
    assert_error(api.delete(f"{RBAC}/{entries[0]['id']}", headers=a["manager"]), 409,
                 "RbacPolicyInUse")
    # b does not see a's RBAC entries.
    assert entries[0]["id"] not in _ids(api, RBAC, b["member"])

    # a shares its network with c only: c sees it and its subnet, and may put a port on it.
    core.rbac("network", net["id"], c["project"], headers=a["member"])
    assert net["id"] in _ids(api, NETWORKS, c["member"])
    assert subnet["id"] in _ids(api, SUBNETS, c["member"])
    assert net["id"] not in _ids(api, NETWORKS, b["member"])
    assert subnet["id"] not in _ids(api, SUBNETS, b["member"])
    c_port = core.port(net, headers=c["member"])
    assert c_port["project_id"] == c["project"]
    assert c_port["qos_network_policy_id"] is None
    assert_error(api.post(PORTS, headers=b["member"],
                          json={"port": {"network_id": net["id"]}}), 404)
    # Visible is not owned: c may neither change the network nor its subnets.
    assert_error(api.put(f"{NETWORKS}/{net['id']}", headers=c["member"],
                         json={"network": {"name": "mine"}}), 404)
    assert_error(api.put(f"{SUBNETS}/{subnet['id']}", headers=c["member"],
                         json={"subnet": {"name": "mine"}}), 404)
    assert_error(api.delete(f"{NETWORKS}/{net['id']}", headers=c["member"]), 404)
    # a's ports on it stay a's, c's port stays c's.
    assert c_port["id"] not in _ids(api, PORTS, b["member"])
    assert a["objects"][PORTS]["id"] not in _ids(api, PORTS, c["member"])
    # A network policy a sets applies to c's port too; c's policy is c's to choose.
    ok(api.put(f"{NETWORKS}/{net['id']}", headers=a["member"],
               json={"network": {"qos_policy_id": policy["id"]}}))
    shown = ok(api.get(f"{PORTS}/{c_port['id']}", headers=c["member"]))["port"]
    assert shown["qos_network_policy_id"] == policy["id"]
    ok(api.put(f"{NETWORKS}/{net['id']}", headers=a["member"],
               json={"network": {"qos_policy_id": None}}))
    # The network cannot be unshared from c while c's port is on it.
    entry = [e for e in ok(api.get(RBAC, headers=a["member"],
                                   params={"object_id": net["id"]}))["rbac_policies"]
             if e["target_tenant"] == c["project"]][0]
    assert_error(api.delete(f"{RBAC}/{entry['id']}", headers=a["member"]), 409)

    # Sharing with everyone opens the policy to c as well.
    ok(api.put(f"{POLICIES}/{policy['id']}", headers=a["manager"],
               json={"policy": {"shared": True}}))
    assert policy["id"] in _ids(api, POLICIES, c["member"])
    ok(api.put(f"{PORTS}/{c['objects'][PORTS]['id']}", headers=c["member"],
               json={"port": {"qos_policy_id": policy["id"]}}))
    for p in (b, c):
        ok(api.put(f"{PORTS}/{p['objects'][PORTS]['id']}", headers=p["member"],
                   json={"port": {"qos_policy_id": None}}))


@pytest.mark.parametrize("roles", [("reader",), ()])
def test_reader_reads_but_does_not_write(api, core, new_policy, roles):
    """Any member may attach a visible policy to its own port or network; a reader (or a
    caller without a role) of the same project sees them but changes nothing: 403."""
    project = new_project()
    member_, reader = who(project, "member"), who(project, *roles)
    policy = new_policy(project_id=project, shared=True)
    net = core.network(headers=member_)
    subnet = core.subnet(net, headers=member_)
    port = core.port(net, headers=member_)
    router = core.router(headers=member_)
    ext, _ = core.external_network()
    fip = core.floatingip(ext, headers=member_)
    entry = core.rbac("network", net["id"], new_project(), headers=member_)
    objects = {NETWORKS: net, SUBNETS: subnet, PORTS: port, ROUTERS: router,
               FLOATINGIPS: fip, RBAC: entry}

    for path, obj in objects.items():
        root = COLLECTIONS[path][1]
        assert obj["id"] in _ids(api, path, reader)
        assert ok(api.get(f"{path}/{obj['id']}", headers=reader))[root]["id"] == obj["id"]
        body = {"target_tenant": "*"} if path == RBAC else {"description": "reader was here"}
        assert_error(api.put(f"{path}/{obj['id']}", headers=reader, json={root: body}), 403)
        assert_error(api.delete(f"{path}/{obj['id']}", headers=reader), 403)
        if path != RBAC:
            assert_error(api.put(f"{path}/{obj['id']}/tags/x", headers=reader), 403)
    for path, body in ((NETWORKS, {}), (SUBNETS, {"network_id": net["id"], "ip_version": 4,
                                                  "cidr": "198.18.99.0/24"}),
                       (PORTS, {"network_id": net["id"]}), (ROUTERS, {}),
                       (FLOATINGIPS, {"floating_network_id": ext["id"]}),
                       (RBAC, {"object_type": "network", "object_id": net["id"],
                               "action": "access_as_shared", "target_tenant": "*"})):
        assert_error(api.post(path, headers=reader, json={COLLECTIONS[path][1]: body}), 403)
    # Binding is writing.
    assert_error(api.put(f"{PORTS}/{port['id']}", headers=reader,
                         json={"port": {"qos_policy_id": policy["id"]}}), 403)
    assert_error(api.put(f"{NETWORKS}/{net['id']}", headers=reader,
                         json={"network": {"qos_policy_id": policy["id"]}}), 403)
    assert_error(api.put(f"{ROUTERS}/{router['id']}/add_router_interface", headers=reader,
                         json={"subnet_id": subnet["id"]}), 403)
    # The member may.
    ok(api.put(f"{PORTS}/{port['id']}", headers=member_,
               json={"port": {"qos_policy_id": policy["id"]}}))
    ok(api.put(f"{PORTS}/{port['id']}", headers=member_, json={"port": {"qos_policy_id": None}}))
    # Nothing the reader tried happened.
    for path, obj in objects.items():
        shown = ok(api.get(f"{path}/{obj['id']}", headers=member_))[COLLECTIONS[path][1]]
        assert shown.get("description") != "reader was here"
        assert shown.get("target_tenant") != "*"
    # Another project's reader sees nothing of it.
    stranger = who(new_project(), *roles)
    for path, obj in objects.items():
        assert_error(api.get(f"{path}/{obj['id']}", headers=stranger), 404)
        assert_error(api.delete(f"{path}/{obj['id']}", headers=stranger), 404)
