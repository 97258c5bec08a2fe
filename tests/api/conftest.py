"""Helpers for the API tests: identities, error assertions, policies that clean up.

The `api` client here wraps the suite-wide one (tests/conftest.py) with a response hook
that fails the test on any 5xx: no client input may ever yield a server error.
"""
from __future__ import annotations

import uuid

import httpx
import pytest

POLICIES = "/v2.0/qos/policies"

# rule type -> (collection, member, a minimal valid body)
RULES = {
    "bandwidth_limit": {"max_kbps": 10000},
    "dscp_marking": {"dscp_mark": 26},
    "minimum_bandwidth": {"min_kbps": 1000},
    "minimum_packet_rate": {"min_kpps": 1000},
    "packet_rate_limit": {"max_kpps": 1000},
}


def collection(rule_type: str) -> str:
    return f"{rule_type}_rules"


def member(rule_type: str) -> str:
    return f"{rule_type}_rule"


def rules_url(policy_id: str, rule_type: str, rule_id: str | None = None) -> str:
    url = f"{POLICIES}/{policy_id}/{collection(rule_type)}"
    return f"{url}/{rule_id}" if rule_id else url


def alias_url(rule_type: str, rule_id: str) -> str:
    return f"/v2.0/qos/alias_{collection(rule_type)}/{rule_id}"


def who(project: str, *roles: str, user: str = "user") -> dict[str, str]:
    """keystonemiddleware's identity headers, as noauth mode reads them."""
    return {"X-Project-Id": project, "X-User-Id": user, "X-Roles": ",".join(roles)}


def new_project() -> str:
    return "proj-" + uuid.uuid4().hex[:12]


def assert_error(resp: httpx.Response, status: int, type_: str | None = None,
                 contains: str | None = None) -> dict:
    """The response is a Neutron error of this status (and type, and message text)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"NeutronError"}, body
    err = body["NeutronError"]
    assert set(err) == {"type", "message", "detail"}, err
    assert isinstance(err["type"], str) and err["type"], err
    assert isinstance(err["message"], str) and err["message"], err
    if type_ is not None:
        assert err["type"] == type_, err
    if contains is not None:
        assert contains.lower() in err["message"].lower(), err
    return err


def _no_server_errors(resp: httpx.Response) -> None:
    if resp.status_code >= 500:
        resp.read()
        raise AssertionError(f"{resp.request.method} {resp.request.url} -> "
                             f"{resp.status_code}: {resp.text}")


def own_server(request, tmp_path_factory, name: str, extra_args=()):
    """A server of a test module's own (its data must not meet other tests'), on the
    database the fixture's param names: yields it started, stops it after."""
    from tests.harness.server import ServerProcess

    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_postgres_url")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'netqos.sqlite'}"
    server = ServerProcess(url, extra_args=extra_args,
                           log_dir=tmp_path_factory.mktemp(f"{name}-log"))
    server.start()
    yield server
    server.stop()


def own_api(server):
    """An httpx client of a module's own `server` (fixture: pytest.fixture(name="api"))."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def api(api_server):
    with httpx.Client(base_url=api_server.url, timeout=10,
                      event_hooks={"response": [_no_server_errors]}) as client:
        yield client


class PolicyFactory:
    """new_policy(**attrs, headers=…) creates a policy (as admin unless headers say
    otherwise) and deletes it, as admin, when the test ends."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.created: list[str] = []

    def __call__(self, headers: dict | None = None, **attrs) -> dict:
        attrs.setdefault("name", "p-" + uuid.uuid4().hex[:8])
        resp = self.client.post(POLICIES, json={"policy": attrs}, headers=headers or {})
        assert resp.status_code == 201, resp.text
        policy = resp.json()["policy"]
        self.created.append(policy["id"])
        return policy

    def rule(self, policy_id: str, rule_type: str, headers: dict | None = None,
             **values) -> dict:
        body = {**RULES[rule_type], **values}
        resp = self.client.post(rules_url(policy_id, rule_type),
                                json={member(rule_type): body}, headers=headers or {})
        assert resp.status_code == 201, resp.text
        return resp.json()[member(rule_type)]

    def cleanup(self) -> None:
        for pid in reversed(self.created):
            # A test may have unset is_default or deleted it already; both are fine.
            resp = self.client.delete(f"{POLICIES}/{pid}")
            assert resp.status_code in (204, 404), resp.text


@pytest.fixture
def new_policy(api):
    factory = PolicyFactory(api)
    yield factory
    factory.cleanup()


@pytest.fixture
def conn(api_server):
    """The real, unmodified openstacksdk, as against a Neutron in noauth mode."""
    import openstack

    c = openstack.connect(auth_type="none", network_endpoint_override=api_server.url + "/",
                          load_yaml_config=False, load_envvars=False)
    yield c
    c.close()
