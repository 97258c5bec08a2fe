"""Concurrent writers on one policy, on SQLite and PostgreSQL: the database's constraints,
not the request order, decide, and nobody sees a 500.

The rule write path runs without a savepoint (service/rules.py _save): a duplicate that
slips past the in-memory check must still end as Neutron's 409, and the rule counts and
revision must match what was accepted.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.harness.server import ServerProcess

from .conftest import POLICIES, RULES, assert_error, member, rules_url

WRITERS = 8


def _parallel(url: str, calls) -> list[httpx.Response]:
    def one(call):
        with httpx.Client(base_url=url, timeout=30) as client:
            return call(client)

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(one, calls))


def test_the_same_rule_created_at_once_is_accepted_exactly_once(api_server, api, new_policy):
    _one_rule_wins(api_server.url, api, new_policy())


def _one_rule_wins(url: str, api: httpx.Client, policy: dict) -> None:
    body = {member("bandwidth_limit"): RULES["bandwidth_limit"]}
    answers = _parallel(url, [
        lambda c: c.post(rules_url(policy["id"], "bandwidth_limit"), json=body)] * WRITERS)
    assert sorted(r.status_code for r in answers) == [201] + [409] * (WRITERS - 1), \
        [(r.status_code, r.text) for r in answers]
    for refused in (r for r in answers if r.status_code == 409):
        assert_error(refused, 409, "QoSRulesConflict")
    shown = api.get(f"{POLICIES}/{policy['id']}").json()["policy"]
    assert len(shown["rules"]) == 1
    assert shown["revision_number"] == policy["revision_number"] + 1


def test_different_rules_created_at_once_are_all_kept(api_server, api, new_policy):
    policy = new_policy()
    types = list(RULES)
    answers = _parallel(api_server.url, [
        (lambda c, t=t: c.post(rules_url(policy["id"], t), json={member(t): RULES[t]}))
        for t in types])
    statuses = [r.status_code for r in answers]
    # Writers that lost a race on the policy's revision are retried by the server; a
    # minimum packet rate rule and others may legitimately conflict by type (409).
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, \
        [(r.status_code, r.text) for r in answers]
    shown = api.get(f"{POLICIES}/{policy['id']}").json()["policy"]
    assert sorted(r["type"] for r in shown["rules"]) == sorted(
        t for t, r in zip(types, answers) if r.status_code == 201)
    assert shown["revision_number"] == policy["revision_number"] + statuses.count(201)


def test_policies_created_and_deleted_at_once(api_server, api):
    names = [f"concurrent-{i}" for i in range(WRITERS * 4)]
    created = _parallel(api_server.url, [
        (lambda c, n=n: c.post(POLICIES, json={"policy": {"name": n}})) for n in names])
    assert [r.status_code for r in created] == [201] * len(names)
    ids = [r.json()["policy"]["id"] for r in created]
    deleted = _parallel(api_server.url, [
        (lambda c, i=i: c.delete(f"{POLICIES}/{i}")) for i in ids])
    assert [r.status_code for r in deleted] == [204] * len(ids)
    left = {p["id"] for p in api.get(POLICIES).json()["policies"]}
    assert not left & set(ids)


@pytest.fixture(scope="module")
def sqlite_two_workers(tmp_path_factory):
    """Two server processes on one SQLite file: writers of different processes meet in
    SQLite's own locking (BEGIN IMMEDIATE and the busy timeout), not in a shared lock."""
    d = tmp_path_factory.mktemp("sqlite-workers")
    with ServerProcess(f"sqlite:///{d / 'netqos.sqlite'}", extra_args=["--workers", "2"],
                       log_dir=d) as server:
        yield server


def test_two_sqlite_workers_keep_every_write_and_refuse_duplicates(sqlite_two_workers):
    with httpx.Client(base_url=sqlite_two_workers.url, timeout=30) as api:
        names = [f"w2-{i}" for i in range(WRITERS * 8)]
        created = _parallel(sqlite_two_workers.url, [
            (lambda c, n=n: c.post(POLICIES, json={"policy": {"name": n}})) for n in names])
        assert [r.status_code for r in created] == [201] * len(names)
        policy = created[0].json()["policy"]
        _one_rule_wins(sqlite_two_workers.url, api, policy)
        listed = {p["name"] for p in api.get(POLICIES).json()["policies"]}
        assert set(names) <= listed
        deleted = _parallel(sqlite_two_workers.url, [
            (lambda c, r=r: c.delete(f"{POLICIES}/{r.json()['policy']['id']}"))
            for r in created])
        assert [r.status_code for r in deleted] == [204] * len(created)
        assert api.get(POLICIES).json()["policies"] == []
