"""Input that the schema allows through but a database or an encoder would choke on: each
must be a 4xx Neutron error, never a 500, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest

from tests.api.conftest import POLICIES, assert_error, new_project, who


@pytest.mark.parametrize("attr", ["name", "description", "project_id"])
def test_nul_in_string_attribute(api, attr):
    err = assert_error(api.post(POLICIES, json={"policy": {attr: "a\u0000b"}}), 400)
    assert attr in err["message"]


def test_nul_in_put(api, new_policy):
    policy = new_policy()
    assert_error(api.put(f"{POLICIES}/{policy['id']}", json={"policy": {"name": "\u0000"}}),
                 400)


@pytest.mark.parametrize("params", [{"name": "a\u0000"}, {"marker": "\u0000", "limit": 1},
                                    {"tags": "t\u0000"}, {"sort_key": "na\u0000me"},
                                    {"fields": "id\u0000"}])
def test_nul_in_query(api, params):
    assert_error(api.get(POLICIES, params=params), 400)


@pytest.mark.parametrize("path", [POLICIES + "/a%00b",
                                  POLICIES + "/a%00b/bandwidth_limit_rules",
                                  "/v2.0/qos/alias_dscp_marking_rules/%00"])
def test_nul_in_path(api, path):
    assert_error(api.get(path), 404)
    assert_error(api.delete(path), 404)


def test_deeply_nested_json(api):
    body = b'{"policy": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    assert_error(api.post(POLICIES, content=body, headers={"Content-Type": "application/json"}),
                 400)


@pytest.mark.parametrize("body", [b'{"policy": {"name": "\\ud800"}}',
                                  b'{"policy": {"\\udfff": 1}}',
                                  '{"policy": {"name": "\\ud800"}}'.encode("utf-16")])
def test_unpaired_surrogate(api, body):
    assert_error(api.post(POLICIES, content=body, headers={"Content-Type": "application/json"}),
                 400)


def test_paired_surrogates_are_fine(api, new_policy):
    resp = api.post(POLICIES, content=b'{"policy": {"name": "\\ud83d\\ude00"}}',
                    headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text
    new_policy.created.append(resp.json()["policy"]["id"])
    assert resp.json()["policy"]["name"] == "\U0001F600"


def test_unicode_round_trip(api, new_policy):
    policy = new_policy(name="débit ✓ 帯域", description="ß" * 255)
    shown = api.get(f"{POLICIES}/{policy['id']}").json()["policy"]
    assert shown["name"] == "débit ✓ 帯域" and shown["description"] == "ß" * 255
    assert [p["id"] for p in api.get(POLICIES, params={"name": "débit ✓ 帯域"}).json()[
        "policies"]] == [policy["id"]]


def test_overlong_project_header(api):
    manager = who("p" * 256, "manager")
    assert_error(api.post(POLICIES, json={"policy": {}}, headers=manager), 400)
    assert_error(api.get(POLICIES, headers=manager), 400)
    # 255 characters is a valid project id.
    resp = api.post(POLICIES, json={"policy": {}}, headers=who("p" * 255, "manager"))
    assert resp.status_code == 201, resp.text
    assert api.delete(f"{POLICIES}/{resp.json()['policy']['id']}").status_code == 204


def test_huge_numbers(api, new_policy):
    pid = new_policy()["id"]
    for value in (10 ** 40, -(10 ** 40), 1e308, "9" * 400):
        assert_error(api.post(f"{POLICIES}/{pid}/bandwidth_limit_rules",
                              json={"bandwidth_limit_rule": {"max_kbps": value}}), 400)
    for body in (b'{"bandwidth_limit_rule": {"max_kbps": NaN}}',
                 b'{"bandwidth_limit_rule": {"max_kbps": Infinity}}',
                 b'{"bandwidth_limit_rule": {"max_kbps": 1e999}}'):
        assert_error(api.post(f"{POLICIES}/{pid}/bandwidth_limit_rules", content=body,
                              headers={"Content-Type": "application/json"}), 400)
    assert_error(api.get(POLICIES, params={"revision_number": "9" * 100}), 400)
    assert_error(api.get(POLICIES, params={"limit": "9" * 100}), 400)


def test_very_long_ids_and_filters(api):
    project = new_project()
    member = who(project, "member")
    assert_error(api.get(f"{POLICIES}/{'a' * 5000}", headers=member), 404)
    resp = api.get(POLICIES, params={"name": "n" * 5000}, headers=member)
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        assert resp.json() == {"policies": []}
