"""Lists of policies: filters, fields, sorting, pagination with policies_links.

Each test lists as a member of a project of its own, so it sees exactly the policies it
made there (and shared ones, which none of these tests leave behind).
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.conftest import POLICIES, assert_error, new_project, who


@pytest.fixture
def five(new_policy):
    """Five policies in a fresh project: names c, a, e, b, d (created in that order)."""
    project = new_project()
    made = [new_policy(project_id=project, name=n, description=f"desc-{n}")
            for n in ("c", "a", "e", "b", "d")]
    return project, made


def names(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [p["name"] for p in resp.json()["policies"]]


def test_list_shows_what_was_made(api, five):
    project, made = five
    resp = api.get(POLICIES, headers=who(project, "member"))
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"policies"}
    assert sorted(body["policies"], key=lambda p: p["id"]) == sorted(made, key=lambda p: p["id"])


def test_admin_sees_every_project(api, five):
    _, made = five
    listed = {p["id"] for p in api.get(POLICIES).json()["policies"]}
    assert {p["id"] for p in made} <= listed


def test_filters(api, five, new_policy):
    project, made = five
    member = who(project, "member")
    assert names(api.get(POLICIES, params={"name": "a"}, headers=member)) == ["a"]
    assert sorted(names(api.get(POLICIES, params=[("name", "a"), ("name", "b")],
                                headers=member))) == ["a", "b"]
    assert names(api.get(POLICIES, params={"name": "zzz"}, headers=member)) == []
    assert names(api.get(POLICIES, params={"description": "desc-e"}, headers=member)) == ["e"]
    assert names(api.get(POLICIES, params={"id": made[0]["id"]}, headers=member)) == ["c"]
    assert len(names(api.get(POLICIES, params={"project_id": project}, headers=member))) == 5
    assert len(names(api.get(POLICIES, params={"tenant_id": project}))) == 5
    assert names(api.get(POLICIES, params={"project_id": new_project()})) == []
    assert len(names(api.get(POLICIES, params={"shared": "false", "project_id": project}))) == 5
    assert names(api.get(POLICIES, params={"shared": "true", "project_id": project})) == []
    assert len(names(api.get(POLICIES, params={"is_default": "false", "project_id": project}))) == 5
    assert len(names(api.get(POLICIES, params={"revision_number": 0, "project_id": project}))) \
        == 5

    shared = new_policy(project_id=project, name="s", shared=True, is_default=True)
    assert names(api.get(POLICIES, params={"shared": "true", "project_id": project})) == ["s"]
    assert names(api.get(POLICIES, params={"is_default": "True", "project_id": project})) \
        == ["s"]
    assert shared["is_default"] is True


@pytest.mark.parametrize("params", [{"foo": "bar"}, {"rules": "x"}, {"created_at": "x"},
                                    {"name": "a", "colour": "red"}])
def test_unknown_filter_is_400(api, params):
    assert_error(api.get(POLICIES, params=params), 400)


@pytest.mark.parametrize("params", [{"shared": "perhaps"}, {"revision_number": "x"},
                                    {"is_default": "2"}])
def test_bad_filter_value_is_400(api, params):
    assert_error(api.get(POLICIES, params=params), 400)


def test_fields(api, five):
    project, made = five
    member = who(project, "member")
    resp = api.get(POLICIES, params={"fields": "name", "sort_key": "name"}, headers=member)
    assert resp.json() == {"policies": [{"name": n} for n in "abcde"]}
    resp = api.get(POLICIES, params=[("fields", "id"), ("fields", "rules"), ("name", "c")],
                   headers=member)
    assert resp.json() == {"policies": [{"id": made[0]["id"], "rules": []}]}
    resp = api.get(POLICIES, params={"fields": "id,revision_number", "name": "a"},
                   headers=member)
    assert resp.json() == {"policies": [{"id": made[1]["id"], "revision_number": 0}]}


def test_sorting(api, five):
    project, made = five
    member = who(project, "member")
    assert names(api.get(POLICIES, params={"sort_key": "name"}, headers=member)) == list("abcde")
    assert names(api.get(POLICIES, params={"sort_key": "name", "sort_dir": "desc"},
                         headers=member)) == list("edcba")
    assert names(api.get(POLICIES, params={"sort_key": "description", "sort_dir": "asc"},
                         headers=member)) == list("abcde")
    by_id = sorted(made, key=lambda p: p["id"])
    assert names(api.get(POLICIES, params={"sort_key": "id"}, headers=member)) == \
        [p["name"] for p in by_id]
    # Two keys: equal revision numbers, then name descending.
    assert names(api.get(POLICIES, params=[("sort_key", "revision_number"),
                                           ("sort_key", "name"), ("sort_dir", "asc"),
                                           ("sort_dir", "desc")], headers=member)) \
        == list("edcba")


@pytest.mark.parametrize("params", [
    {"sort_key": "foo"},
    {"sort_key": "rules"},
    {"sort_key": "name", "sort_dir": "sideways"},
    {"sort_dir": "asc"},
])
def test_bad_sorting_is_400(api, params):
    assert_error(api.get(POLICIES, params=params), 400)


def _link(body: dict, rel: str) -> dict | None:
    links = {link["rel"]: link["href"] for link in body.get("policies_links", [])}
    if rel not in links:
        return None
    return {k: v[-1] for k, v in parse_qs(urlsplit(links[rel]).query).items()}


def test_pagination(api, five):
    project, _ = five
    member = who(project, "member")
    params = {"sort_key": "name", "limit": 2}

    first = api.get(POLICIES, params=params, headers=member).json()
    assert [p["name"] for p in first["policies"]] == ["a", "b"]
    # As Neutron builds them: a full page has both links, even the first one; each is the
    # request's query, in its order, with the marker (and page_reverse) set.
    hrefs = {link["rel"]: link["href"] for link in first["policies_links"]}
    ids = [p["id"] for p in first["policies"]]
    assert hrefs["next"].endswith(f"{POLICIES}?sort_key=name&limit=2&marker={ids[-1]}")
    assert hrefs["previous"].endswith(
        f"{POLICIES}?sort_key=name&limit=2&marker={ids[0]}&page_reverse=True")
    before = api.get(POLICIES, params=_link(first, "previous"), headers=member).json()
    assert before == {"policies": []}
    nxt = _link(first, "next")
    assert nxt["marker"] == first["policies"][-1]["id"]
    assert nxt["limit"] == "2" and nxt["sort_key"] == "name"

    second = api.get(POLICIES, params=nxt, headers=member).json()
    assert [p["name"] for p in second["policies"]] == ["c", "d"]
    prev = _link(second, "previous")
    assert prev is not None and prev["marker"] == second["policies"][0]["id"]
    nxt = _link(second, "next")

    third = api.get(POLICIES, params=nxt, headers=member).json()
    assert [p["name"] for p in third["policies"]] == ["e"]
    assert _link(third, "next") is None
    assert _link(third, "previous") is not None

    # Following "previous" from the second page leads back to the first.
    back = api.get(POLICIES, params=prev, headers=member).json()
    assert [p["name"] for p in back["policies"]] == ["a", "b"]

    # A limit beyond the total: everything, no next link.
    everything = api.get(POLICIES, params={"sort_key": "name", "limit": 10},
                         headers=member).json()
    assert [p["name"] for p in everything["policies"]] == list("abcde")
    assert _link(everything, "next") is None and _link(everything, "previous") is not None

    # A page filled exactly to the end still has a next link (Neutron cannot know); it
    # leads to an empty page.
    exact = api.get(POLICIES, params={"sort_key": "name", "limit": 5}, headers=member).json()
    assert len(exact["policies"]) == 5
    assert api.get(POLICIES, params=_link(exact, "next"), headers=member).json() == {
        "policies": []}

    # Marker and page_reverse already in the query are replaced in place, not repeated.
    again = api.get(POLICIES, params=[("sort_key", "name"), ("marker", ids[-1]),
                                      ("limit", "2"), ("page_reverse", "false")],
                    headers=member).json()
    hrefs = {link["rel"]: link["href"] for link in again["policies_links"]}
    assert "page_reverse" not in hrefs["next"] and hrefs["next"].count("marker=") == 1
    assert hrefs["previous"].count("page_reverse=True") == 1


def test_pagination_descending_with_marker(api, five):
    project, _ = five
    member = who(project, "member")
    first = api.get(POLICIES, params={"sort_key": "name", "sort_dir": "desc", "limit": 3},
                    headers=member).json()
    assert [p["name"] for p in first["policies"]] == ["e", "d", "c"]
    second = api.get(POLICIES, params=_link(first, "next"), headers=member).json()
    assert [p["name"] for p in second["policies"]] == ["b", "a"]


@pytest.mark.parametrize("limit", ["-1", "abc", "1.5"])
def test_bad_limit_is_400(api, limit):
    assert_error(api.get(POLICIES, params={"limit": limit}), 400)


def test_unknown_marker(api, five):
    project, _ = five
    resp = api.get(POLICIES, params={"limit": 2, "marker": "00000000-0000-0000-0000-000000000000"},
                   headers=who(project, "member"))
    # Neutron answers 404 for a marker that names no visible object; an empty page is also
    # a safe answer. What is never fine is a 500 or the wrong page.
    assert resp.status_code in (200, 404), resp.text
    if resp.status_code == 200:
        assert resp.json()["policies"] == []
    else:
        assert_error(resp, 404)


def test_list_rules_inside_policies(api, new_policy):
    project = new_project()
    policy = new_policy(project_id=project)
    new_policy.rule(policy["id"], "bandwidth_limit")
    new_policy.rule(policy["id"], "dscp_marking")
    listed = api.get(POLICIES, headers=who(project, "reader")).json()["policies"]
    assert len(listed) == 1
    assert sorted(r["type"] for r in listed[0]["rules"]) == ["bandwidth_limit", "dscp_marking"]
    assert all(r["qos_policy_id"] == policy["id"] for r in listed[0]["rules"])
