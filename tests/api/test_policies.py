"""/v2.0/qos/policies: create, show, update, delete and every error qos-api.md names."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.api.conftest import POLICIES, assert_error, new_project, who

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
POLICY_KEYS = {"id", "name", "description", "shared", "is_default", "project_id", "tenant_id",
               "rules", "tags", "revision_number", "created_at", "updated_at"}


def test_create_fills_defaults(api, new_policy):
    resp = api.post(POLICIES, json={"policy": {}})
    assert resp.status_code == 201, resp.text
    policy = resp.json()["policy"]
    new_policy.created.append(policy["id"])
    assert set(policy) == POLICY_KEYS
    assert UUID_RE.match(policy["id"])
    assert policy["name"] == "" and policy["description"] == ""
    assert policy["shared"] is False and policy["is_default"] is False
    assert policy["project_id"] == policy["tenant_id"] == "fake_project_id"
    assert policy["rules"] == [] and policy["tags"] == []
    assert policy["revision_number"] == 0  # Neutron's first revision of a QoS policy
    assert TIMESTAMP_RE.match(policy["created_at"]) and TIMESTAMP_RE.match(policy["updated_at"])


def test_create_show_update_delete(api, new_policy):
    policy = new_policy(name="gold", description="the best", shared=True)
    assert (policy["name"], policy["description"], policy["shared"]) == ("gold", "the best", True)
    url = f"{POLICIES}/{policy['id']}"

    shown = api.get(url)
    assert shown.status_code == 200
    assert shown.json() == {"policy": policy}

    resp = api.put(url, json={"policy": {"name": "silver", "description": "", "shared": False}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()["policy"]
    assert (updated["name"], updated["description"], updated["shared"]) == ("silver", "", False)
    assert updated["revision_number"] == policy["revision_number"] + 1
    assert updated["created_at"] == policy["created_at"]
    assert api.get(url).json()["policy"] == updated

    resp = api.delete(url)
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api.get(url), 404, "QosPolicyNotFound", policy["id"])
    assert_error(api.delete(url), 404, "QosPolicyNotFound")
    assert_error(api.put(url, json={"policy": {"name": "x"}}), 404, "QosPolicyNotFound")


def test_show_with_fields(api, new_policy):
    policy = new_policy(name="f")
    resp = api.get(f"{POLICIES}/{policy['id']}", params={"fields": ["id", "name"]})
    assert resp.status_code == 200
    assert resp.json() == {"policy": {"id": policy["id"], "name": "f"}}


@pytest.mark.parametrize("value,expected", [("true", True), ("false", False), ("True", True),
                                            (True, True), (False, False)])
def test_shared_accepts_booleans_and_their_strings(api, new_policy, value, expected):
    assert new_policy(shared=value)["shared"] is expected


@pytest.mark.parametrize("body,field", [
    ({"name": "x" * 256}, "name"),
    ({"description": "x" * 256}, "description"),
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
])
def test_create_invalid_values(api, body, field):
    err = assert_error(api.post(POLICIES, json={"policy": body}), 400, "HTTPBadRequest")
    assert field in err["message"]


@pytest.mark.parametrize("body", [{"shared": "maybe"}, {"shared": None}, {"shared": 7},
                                  {"is_default": "yes please"}])
def test_create_not_a_boolean(api, body):
    """Neutron's converter refuses these: InvalidInput, naming the value."""
    value = next(iter(body.values()))
    err = assert_error(api.post(POLICIES, json={"policy": body}), 400, "InvalidInput")
    assert err["message"] == f"Invalid input for operation: '{value}' cannot be converted " \
                             "to boolean."


def test_name_of_255_characters_is_fine(api, new_policy):
    assert new_policy(name="n" * 255, description="d" * 255)["name"] == "n" * 255


@pytest.mark.parametrize("attr", ["id", "rules", "revision_number", "created_at",
                                  "updated_at", "tags"])
def test_read_only_attribute_in_post(api, attr):
    value = {"id": str(uuid.uuid4()), "rules": [], "revision_number": 3,
             "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z",
             "tags": ["a"]}[attr]
    err = assert_error(api.post(POLICIES, json={"policy": {"name": "x", attr: value}}), 400)
    assert attr in err["message"]


def test_id_in_post_message(api):
    assert_error(api.post(POLICIES, json={"policy": {"id": str(uuid.uuid4())}}), 400,
                 contains="Attribute 'id' not allowed in POST")


def test_unknown_attribute(api):
    assert_error(api.post(POLICIES, json={"policy": {"name": "x", "foo": 1}}), 400,
                 contains="Unrecognized attribute(s) 'foo'")


@pytest.mark.parametrize("attr,value", [("id", str(uuid.uuid4())), ("rules", []),
                                        ("project_id", "fake_project_id"),
                                        ("tenant_id", "fake_project_id"),
                                        ("revision_number", 9), ("created_at", "x")])
def test_read_only_attribute_in_put(api, new_policy, attr, value):
    policy = new_policy()
    err = assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {attr: value}}),
                       400)
    assert attr in err["message"]
    assert api.get(f"{POLICIES}/{policy['id']}").json()["policy"]["revision_number"] == 0


def test_unknown_attribute_in_put(api, new_policy):
    policy = new_policy()
    assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"bar": 1}}), 400,
                 contains="Unrecognized attribute(s) 'bar'")


@pytest.mark.parametrize("content", [b"", b"   ", b"{", b"not json", b"[1, 2]", b'"policy"',
                                     b'{"policy": "x"}', b'{"policy": [1]}', b"\xff\xfe"])
def test_bad_bodies(api, content):
    assert_error(api.post(POLICIES, content=content,
                          headers={"Content-Type": "application/json"}), 400)


def test_missing_body(api):
    assert_error(api.post(POLICIES), 400)


def test_malformed_json(api):
    assert_error(api.post(POLICIES, content=b'{"policy": {', headers={
        "Content-Type": "application/json"}), 400, contains="JSON")


def test_wrong_root_key(api, new_policy):
    assert_error(api.post(POLICIES, json={"qos_policy": {"name": "x"}}), 400,
                 contains="Unable to find 'policy' in request body")
    policy = new_policy()
    assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"polizy": {"name": "x"}}), 400,
                 contains="Unable to find 'policy' in request body")


def test_empty_put_body_changes_nothing_harmful(api, new_policy):
    policy = new_policy(name="same")
    resp = api.put(f"{POLICIES}/{policy['id']}", json={"policy": {}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["policy"]["name"] == "same"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "%20", str(uuid.uuid4()),
                                    "x" * 300, "' OR 1=1 --"])
def test_unknown_or_bad_id_is_404(api, bad_id):
    for method in ("GET", "DELETE"):
        assert_error(api.request(method, f"{POLICIES}/{bad_id}"), 404, "QosPolicyNotFound")
    assert_error(api.put(f"{POLICIES}/{bad_id}", json={"policy": {"name": "x"}}), 404,
                 "QosPolicyNotFound")


@pytest.mark.parametrize("method,path", [
    ("PUT", POLICIES), ("DELETE", POLICIES), ("PATCH", POLICIES),
    ("POST", POLICIES + "/{id}"), ("PATCH", POLICIES + "/{id}"),
])
def test_wrong_method_is_405(api, new_policy, method, path):
    policy = new_policy()
    resp = api.request(method, path.format(id=policy["id"]), json={"policy": {}})
    assert_error(resp, 405)


def test_unknown_path_is_404(api):
    assert_error(api.get("/v2.0/qos/nothing"), 404)
    assert_error(api.get("/v2.0/qos/policies/x/y/z"), 404)


# -- revisions and If-Match -----------------------------------------------------------

def test_if_match(api, new_policy):
    policy = new_policy()
    url = f"{POLICIES}/{policy['id']}"
    resp = api.put(url, json={"policy": {"name": "a"}},
                   headers={"If-Match": "revision_number=0"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["policy"]["revision_number"] == 1

    err = assert_error(api.put(url, json={"policy": {"name": "b"}},
                               headers={"If-Match": "revision_number=0"}), 412)
    assert err["message"] == "Constrained to 0, but current revision is 1"
    assert api.get(url).json()["policy"]["name"] == "a"
    assert_error(api.put(url, json={"policy": {"name": "b"}},
                         headers={"If-Match": "revision_number=99"}), 412)

    resp = api.put(url, json={"policy": {"name": "c"}}, headers={"If-Match": "revision_number=1"})
    assert resp.status_code == 200 and resp.json()["policy"]["revision_number"] == 2


def test_revision_only_for_the_policys_own_changes(api, new_policy):
    """As Neutron: sharing is an RBAC entry's change, and an update that changes nothing is
    no new revision; a name, a description or is_default is."""
    policy = new_policy(name="same")
    url = f"{POLICIES}/{policy['id']}"
    for body in ({}, {"shared": True}, {"shared": False}, {"name": "same"}):
        assert api.put(url, json={"policy": body}).json()["policy"]["revision_number"] == 0
    for n, body in enumerate(({"description": "d"}, {"is_default": True},
                              {"is_default": False}), start=1):
        assert api.put(url, json={"policy": body}).json()["policy"]["revision_number"] == n


def test_if_match_garbage_is_400(api, new_policy):
    policy = new_policy()
    assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"name": "b"}},
                         headers={"If-Match": "revision_number=abc"}), 400)


def test_revision_grows_with_rules(api, new_policy):
    policy = new_policy()
    url = f"{POLICIES}/{policy['id']}"
    rule = new_policy.rule(policy["id"], "bandwidth_limit")
    after_create = api.get(url).json()["policy"]
    assert after_create["revision_number"] == 1
    assert after_create["rules"] == [{"id": rule["id"], "type": "bandwidth_limit",
                                      "max_kbps": 10000, "max_burst_kbps": 0,
                                      "direction": "egress",
                                      "qos_policy_id": policy["id"]}]
    api.put(f"{url}/bandwidth_limit_rules/{rule['id']}",
            json={"bandwidth_limit_rule": {"max_kbps": 5}}).raise_for_status()
    assert api.get(url).json()["policy"]["revision_number"] == 2
    api.delete(f"{url}/bandwidth_limit_rules/{rule['id']}").raise_for_status()
    after = api.get(url).json()["policy"]
    assert after["revision_number"] == 3 and after["rules"] == []


def test_delete_policy_deletes_its_rules(api, new_policy):
    policy = new_policy()
    rule = new_policy.rule(policy["id"], "dscp_marking")
    assert api.delete(f"{POLICIES}/{policy['id']}").status_code == 204
    assert_error(api.get(f"/v2.0/qos/alias_dscp_marking_rules/{rule['id']}"), 404,
                 "QosRuleNotFound")


# -- is_default -----------------------------------------------------------------------

def test_one_default_per_project(api, new_policy):
    project = new_project()
    first = new_policy(project_id=project, is_default=True)
    assert first["is_default"] is True
    assert_error(api.post(POLICIES, json={"policy": {"project_id": project,
                                                     "is_default": True}}),
                 409, "QoSPolicyDefaultAlreadyExists", project)

    second = new_policy(project_id=project)
    assert_error(api.put(f"{POLICIES}/{second['id']}", json={"policy": {"is_default": True}}),
                 409, "QoSPolicyDefaultAlreadyExists")
    # Setting it again on the default itself is no conflict.
    resp = api.put(f"{POLICIES}/{first['id']}", json={"policy": {"is_default": True}})
    assert resp.status_code == 200 and resp.json()["policy"]["is_default"] is True

    # Another project has its own default.
    assert new_policy(project_id=new_project(), is_default=True)["is_default"] is True

    # Unset, then the other may take it.
    resp = api.put(f"{POLICIES}/{first['id']}", json={"policy": {"is_default": False}})
    assert resp.status_code == 200 and resp.json()["policy"]["is_default"] is False
    resp = api.put(f"{POLICIES}/{second['id']}", json={"policy": {"is_default": "true"}})
    assert resp.status_code == 200 and resp.json()["policy"]["is_default"] is True
    # Deleting the default frees the slot.
    assert api.delete(f"{POLICIES}/{second['id']}").status_code == 204
    assert new_policy(project_id=project, is_default=True)["is_default"] is True


# -- project_id / tenant_id -----------------------------------------------------------

def test_admin_names_another_project(api, new_policy):
    project = new_project()
    assert new_policy(project_id=project)["project_id"] == project
    other = new_policy(tenant_id=project)
    assert other["project_id"] == other["tenant_id"] == project
    both = new_policy(project_id=project, tenant_id=project)
    assert both["project_id"] == project


def test_project_and_tenant_mismatch(api):
    assert_error(api.post(POLICIES, json={"policy": {"project_id": "a", "tenant_id": "b"}}),
                 400)


def test_non_admin_may_not_name_another_project(api, new_policy):
    mine = new_project()
    manager = who(mine, "manager", "member")
    assert_error(api.post(POLICIES, json={"policy": {"project_id": new_project()}},
                          headers=manager), 400)
    assert_error(api.post(POLICIES, json={"policy": {"tenant_id": new_project()}},
                          headers=manager), 400)
    # Naming its own project is fine.
    assert new_policy(headers=manager, project_id=mine)["project_id"] == mine


def test_put_without_json_content_type_still_parsed(api, new_policy):
    policy = new_policy()
    resp = api.put(f"{POLICIES}/{policy['id']}", content=b'{"policy": {"name": "plain"}}',
                   headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200 and resp.json()["policy"]["name"] == "plain"


@pytest.mark.parametrize("kind", ["qos/policies", "networks"])
def test_a_deleted_resource_takes_its_tags_with_it(api, api_server, kind):
    """Tags are keyed by the resource's id with no foreign key: deleting the resource must
    delete them too, or the table only grows."""
    import sqlalchemy

    key = "policy" if kind == "qos/policies" else "network"
    body = {"name": f"tagged-{uuid.uuid4().hex[:6]}"}
    obj = api.post(f"/v2.0/{kind}", json={key: body}).json()[key]
    path = f"/v2.0/{'policies' if key == 'policy' else kind}/{obj['id']}/tags"
    assert api.put(path, json={"tags": ["red", "blue"]}).status_code == 200
    engine = sqlalchemy.create_engine(api_server.database_url)
    count = sqlalchemy.text("SELECT count(*) FROM tags WHERE resource_id = :id")
    try:
        with engine.connect() as db:
            assert db.execute(count, {"id": obj["id"]}).scalar() == 2
        assert api.delete(f"/v2.0/{kind}/{obj['id']}").status_code == 204
        with engine.connect() as db:
            assert db.execute(count, {"id": obj["id"]}).scalar() == 0
    finally:
        engine.dispose()
