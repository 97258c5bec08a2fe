"""--auth tokens: identities from a token file, 401 without a known X-Auth-Token."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import POLICIES, assert_error
from tests.harness.server import ServerProcess
from tests.harness.server import token_server as token_server_in

TOKENS = {
    "admin-token": {"project_id": "p-admin", "user_id": "root", "roles": ["admin"]},
    "manager-a": {"project_id": "p-a", "user_id": "alice", "roles": ["manager", "member"]},
    "member-a": {"project_id": "p-a", "user_id": "bob", "roles": ["member"]},
    "manager-b": {"project_id": "p-b", "user_id": "carol", "roles": ["manager", "member"]},
}


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    with token_server_in(tmp_path_factory.mktemp("tokens"), TOKENS) as server:
        yield server


@pytest.fixture
def client(token_server):
    with httpx.Client(base_url=token_server.url, timeout=10) as c:
        yield c


def as_(token: str) -> dict:
    return {"X-Auth-Token": token}


@pytest.mark.parametrize("headers", [{}, as_("nope"), as_(""), {"X-Auth-Token": "Admin-Token"},
                                     # noauth's identity headers mean nothing here
                                     {"X-Project-Id": "p-a", "X-Roles": "admin"}])
def test_missing_or_unknown_token_is_401(client, headers):
    for method, path, body in (("GET", POLICIES, None),
                               ("POST", POLICIES, {"policy": {"name": "x"}}),
                               ("GET", "/v2.0/qos/rule-types", None),
                               ("GET", f"{POLICIES}/00000000-0000-0000-0000-000000000000", None)):
        resp = client.request(method, path, json=body, headers=headers)
        assert_error(resp, 401)


def test_tokens_carry_identity_and_roles(client):
    resp = client.post(POLICIES, json={"policy": {"name": "a1"}}, headers=as_("manager-a"))
    assert resp.status_code == 201, resp.text
    policy = resp.json()["policy"]
    assert policy["project_id"] == "p-a"
    url = f"{POLICIES}/{policy['id']}"

    assert client.get(url, headers=as_("member-a")).status_code == 200
    assert_error(client.put(url, json={"policy": {"name": "x"}}, headers=as_("member-a")), 403)
    assert_error(client.post(POLICIES, json={"policy": {}}, headers=as_("member-a")), 403)
    assert_error(client.get(url, headers=as_("manager-b")), 404, "QosPolicyNotFound")
    assert_error(client.post(POLICIES, json={"policy": {"project_id": "p-b"}},
                             headers=as_("manager-a")), 400)

    listed = client.get(POLICIES, headers=as_("manager-b")).json()["policies"]
    assert policy["id"] not in {p["id"] for p in listed}
    listed = client.get(POLICIES, headers=as_("admin-token")).json()["policies"]
    assert policy["id"] in {p["id"] for p in listed}

    assert_error(client.get("/v2.0/qos/rule-types/bandwidth_limit", headers=as_("manager-a")),
                 403)
    assert client.get("/v2.0/qos/rule-types/bandwidth_limit",
                      headers=as_("admin-token")).status_code == 200

    resp = client.post(POLICIES, json={"policy": {"project_id": "p-b"}},
                       headers=as_("admin-token"))
    assert resp.status_code == 201 and resp.json()["policy"]["project_id"] == "p-b"
    assert client.delete(url, headers=as_("manager-a")).status_code == 204


def test_version_document_without_token(client):
    # Clients discover the API before they authenticate: GET / needs no token.
    resp = client.get("/")
    assert resp.status_code == 200 and resp.json()["versions"]


def test_token_file_required(tmp_path):
    server = ServerProcess(f"sqlite:///{tmp_path / 'x.sqlite'}", auth="tokens")
    with pytest.raises(RuntimeError):
        server.start(timeout=15)
