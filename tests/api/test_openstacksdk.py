"""The real, unmodified openstacksdk against a real server (auth_type none, as against a
Neutron in noauth mode)."""
from __future__ import annotations

import uuid

import pytest

openstack = pytest.importorskip("openstack")
from openstack import exceptions  # noqa: E402

RULE_CALLS = {
    # rule type: (create, get, update, delete, list, find, body, updated field, new value)
    "bandwidth_limit": ("bandwidth_limit_rule", {"max_kbps": 10000, "max_burst_kbps": 800,
                                                 "direction": "ingress"}, "max_kbps", 2000),
    "dscp_marking": ("dscp_marking_rule", {"dscp_mark": 26}, "dscp_mark", 46),
    "minimum_bandwidth": ("minimum_bandwidth_rule", {"min_kbps": 1000}, "min_kbps", 1500),
    "minimum_packet_rate": ("minimum_packet_rate_rule", {"min_kpps": 100, "direction": "any"},
                            "min_kpps", 200),
    "packet_rate_limit": ("packet_rate_limit_rule", {"max_kpps": 500, "max_burst_kpps": 50},
                          "max_kpps", 600),
}


@pytest.fixture
def policy(conn):
    p = conn.network.create_qos_policy(name="sdk-" + uuid.uuid4().hex[:8], description="d")
    yield p
    conn.network.delete_qos_policy(p, ignore_missing=True)


def test_policy_lifecycle(conn):
    name = "sdk-" + uuid.uuid4().hex[:8]
    p = conn.network.create_qos_policy(name=name, description="first", shared=True)
    try:
        assert p.id and p.name == name and p.description == "first"
        assert p.is_shared is True and p.is_default is False
        assert p.project_id == "fake_project_id" and p.revision_number == 0
        assert p.rules == []

        assert conn.network.get_qos_policy(p.id).name == name
        assert conn.network.find_qos_policy(name).id == p.id
        assert conn.network.find_qos_policy(p.id).id == p.id
        assert conn.network.find_qos_policy("no-such-" + name) is None
        assert p.id in {x.id for x in conn.network.qos_policies()}
        assert [x.id for x in conn.network.qos_policies(name=name)] == [p.id]

        u = conn.network.update_qos_policy(p, description="second", shared=False)
        assert u.description == "second" and u.is_shared is False and u.revision_number == 1
        # openstacksdk accepts if_revision for QoS policies but, as QoSPolicy is not one of
        # its NetworkResources, sends no If-Match: the update simply applies.
        u = conn.network.update_qos_policy(p.id, name=name + "-x", if_revision=1)
        assert u.name == name + "-x" and u.revision_number == 2
        # If-Match through the SDK's own session, as scripts send it.
        stale = conn.network.put(f"/qos/policies/{p.id}", json={"policy": {"name": "stale"}},
                                 headers={"If-Match": "revision_number=1"}, raise_exc=False)
        assert stale.status_code == 412
        assert stale.json()["NeutronError"]["type"] == "RevisionNumberConstraintFailed"
        fresh = conn.network.put(f"/qos/policies/{p.id}", json={"policy": {"name": "fresh"}},
                                 headers={"If-Match": "revision_number=2"}, raise_exc=False)
        assert fresh.status_code == 200, fresh.text
        assert conn.network.get_qos_policy(p.id).name == "fresh"
    finally:
        conn.network.delete_qos_policy(p)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_qos_policy(p.id)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.delete_qos_policy(p.id, ignore_missing=False)
    conn.network.delete_qos_policy(p.id, ignore_missing=True)


@pytest.mark.parametrize("rule_type", list(RULE_CALLS))
def test_rule_lifecycle(conn, policy, rule_type):
    noun, body, field, new_value = RULE_CALLS[rule_type]
    net = conn.network
    create = getattr(net, f"create_qos_{noun}")
    get = getattr(net, f"get_qos_{noun}")
    update = getattr(net, f"update_qos_{noun}")
    delete = getattr(net, f"delete_qos_{noun}")
    listing = getattr(net, f"qos_{noun}s")

    rule = create(policy, **body)
    for k, v in body.items():
        assert getattr(rule, k) == v
    assert rule.qos_policy_id == policy.id

    assert get(rule.id, policy).id == rule.id
    assert [r.id for r in listing(policy)] == [rule.id]
    shown = net.get_qos_policy(policy.id)
    assert [(r["id"], r["type"]) for r in shown.rules] == [(rule.id, rule_type)]

    updated = update(rule, policy, **{field: new_value})
    assert getattr(updated, field) == new_value
    assert getattr(get(rule.id, policy), field) == new_value

    with pytest.raises(exceptions.ConflictException):
        create(policy, **body)

    delete(rule, policy)
    with pytest.raises(exceptions.NotFoundException):
        get(rule.id, policy)
    assert list(listing(policy)) == []
    delete(rule, policy, ignore_missing=True)


def test_invalid_values_are_bad_requests(conn, policy):
    with pytest.raises(exceptions.BadRequestException) as info:
        conn.network.create_qos_bandwidth_limit_rule(policy, max_kbps=-1)
    assert "max_kbps" in str(info.value)
    with pytest.raises(exceptions.BadRequestException):
        conn.network.create_qos_dscp_marking_rule(policy, dscp_mark=7)
    with pytest.raises(exceptions.BadRequestException) as info:
        conn.network.create_qos_policy(name="x" * 300)
    assert "name" in str(info.value)


def test_parameter_conflict(conn, policy):
    conn.network.create_qos_bandwidth_limit_rule(policy, max_kbps=1000)
    with pytest.raises(exceptions.ConflictException) as info:
        conn.network.create_qos_minimum_bandwidth_rule(policy, min_kbps=2000)
    assert "QoSRuleParameterConflict" in str(info.value) or "1000" in str(info.value)


def test_rule_types(conn):
    default = {t.type for t in conn.network.qos_rule_types()}
    every = {t.type for t in conn.network.qos_rule_types(all_rules=True)}
    supported = {t.type for t in conn.network.qos_rule_types(all_supported=True)}
    assert every == {"bandwidth_limit", "dscp_marking", "minimum_bandwidth",
                     "minimum_packet_rate", "packet_rate_limit"}
    assert default <= supported <= every and default
    detail = conn.network.get_qos_rule_type("bandwidth_limit")
    assert detail.type == "bandwidth_limit"
    assert detail.drivers and all("supported_parameters" in d for d in detail.drivers)
    with pytest.raises(exceptions.NotFoundException):
        conn.network.get_qos_rule_type("no_such_type")


def test_default_policy(conn):
    project = "sdk-" + uuid.uuid4().hex[:8]
    p = conn.network.create_qos_policy(name="default", is_default=True, project_id=project)
    try:
        assert p.is_default is True and p.project_id == project
        with pytest.raises(exceptions.ConflictException):
            conn.network.create_qos_policy(name="another", is_default=True, project_id=project)
    finally:
        conn.network.delete_qos_policy(p)


def test_pagination_is_followed(conn):
    project = "sdk-" + uuid.uuid4().hex[:8]
    made = [conn.network.create_qos_policy(name=f"page-{i}", project_id=project)
            for i in range(5)]
    try:
        # The SDK follows policies_links "next" until the last page.
        got = list(conn.network.qos_policies(project_id=project, limit=2, sort_key="name",
                                             sort_dir="asc"))
        assert [p.name for p in got] == [f"page-{i}" for i in range(5)]
    finally:
        for p in made:
            conn.network.delete_qos_policy(p)


def test_extensions_probe(conn):
    aliases = {e.alias for e in conn.network.extensions()}
    assert {"qos", "qos-default", "qos-rule-type-details"} <= aliases
    assert conn.network.find_extension("qos") is not None


def test_policy_tags(conn, policy):
    """The SDK's tag calls on a QoS policy; Neutron's tag extension also serves them at
    /v2.0/policies/{id}/tags, where older SDKs send them: both paths hold the same tags."""
    conn.network.set_tags(policy, ["gold", "eu"])
    assert sorted(conn.network.get_qos_policy(policy.id).tags) == ["eu", "gold"]
    conn.network.add_tag(policy, "tier1")
    conn.network.remove_tag(policy, "eu")
    assert sorted(conn.network.get_qos_policy(policy.id).tags) == ["gold", "tier1"]
    assert sorted(conn.network.get_tags(policy)) == ["gold", "tier1"]
    assert [p.id for p in conn.network.qos_policies(tags="tier1")] == [policy.id]

    other_path = f"/policies/{policy.id}/tags"
    assert sorted(conn.network.get(other_path).json()["tags"]) == ["gold", "tier1"]
    resp = conn.network.put(other_path, json={"tags": ["via-policies"]})
    assert resp.status_code == 200, resp.text
    assert conn.network.get_qos_policy(policy.id).tags == ["via-policies"]
    assert conn.network.put(f"{other_path}/second").status_code == 201
    assert conn.network.get(f"{other_path}/second").status_code == 204
    assert conn.network.delete(f"{other_path}/via-policies").status_code == 204
    assert conn.network.get_qos_policy(policy.id).tags == ["second"]
    missing = conn.network.get("/policies/9f1c2d3e-0000-4000-8000-000000000000/tags",
                               raise_exc=False)
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "QosPolicyNotFound"
