"""Scoped credentials over real HTTP against `netqos server --auth tokens`: an agent's token
acts for its own host's endpoints and nothing else, /v2.0/agents and /metrics are for admins,
request bodies have a ceiling, and no body is read before its sender is authenticated."""
from __future__ import annotations

import socket
import threading
import time
import uuid

import httpx
import pytest

from tests.api.conftest import POLICIES, assert_error
from tests.harness.server import token_server

HOST_A = "cred-a-" + uuid.uuid4().hex[:6]
HOST_B = "cred-b-" + uuid.uuid4().hex[:6]
TOKENS = {
    "t-admin": {"project_id": "p-ops", "user_id": "root", "roles": ["admin"]},
    "t-agent-a": {"roles": ["agent"], "host": HOST_A},
    "t-agent-b": {"project_id": "p-ops", "user_id": "agent-b", "roles": ["agent"],
                  "host": HOST_B},
    "t-member": {"project_id": "p-web", "user_id": "bob", "roles": ["member"]},
    "t-reader": {"project_id": "p-web", "user_id": "eve", "roles": ["reader"]},
}
IDENTITIES = ("admin", "agent-a", "agent-b", "member", "reader", None)
HOSTS = "/v2.0/netqos/hosts"
LIMIT = 1 << 20   # the default max_body_size


def as_(who: str | None) -> dict:
    return {"X-Auth-Token": f"t-{who}"} if who else {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with token_server(tmp_path_factory.mktemp("credentials"), TOKENS) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def ok(resp: httpx.Response, status: int = 200) -> dict:
    assert resp.status_code == status, (resp.request.method, str(resp.request.url),
                                        resp.status_code, resp.text)
    return resp.json() if status != 204 else {}


@pytest.fixture(scope="module")
def bound(http):
    """A port on each host, and a router whose gateway is on host A: {host: port_id}."""
    admin = as_("admin")
    ext = ok(http.post("/v2.0/networks", headers=admin, json={"network": {
        "name": "ext", "router:external": True}}), 201)["network"]
    ok(http.post("/v2.0/subnets", headers=admin, json={"subnet": {
        "network_id": ext["id"], "ip_version": 4, "cidr": "198.19.7.0/24"}}), 201)
    net = ok(http.post("/v2.0/networks", headers=admin,
                       json={"network": {"name": "n"}}), 201)["network"]
    ports = {host: ok(http.post("/v2.0/ports", headers=admin, json={"port": {
        "network_id": net["id"], "binding:host_id": host}}), 201)["port"]["id"]
        for host in (HOST_A, HOST_B)}
    router = ok(http.post("/v2.0/routers", headers=admin, json={"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}), 201)["router"]
    gw = ok(http.get("/v2.0/ports", headers=admin, params={
        "device_id": router["id"], "device_owner": "network:router_gateway"}))["ports"][0]
    ok(http.put(f"/v2.0/ports/{gw['id']}", headers=admin,
                json={"port": {"binding:host_id": HOST_A}}))
    return {**ports, "router": router["id"]}


def expected(who: str | None, host: str) -> int:
    if who is None:
        return 401
    if who == "admin" or f"agent-{host[5]}" == who:   # cred-a-… -> agent-a
        return 200
    return 403


def call(http: httpx.Client, endpoint: str, host: str, who: str | None) -> httpx.Response:
    if endpoint == "report":
        return http.post(f"{HOSTS}/{host}/report", headers=as_(who),
                         json={"report": {"agent": None, "ports": []}})
    return http.get(f"{HOSTS}/{host}/{endpoint}", headers=as_(who))


@pytest.mark.parametrize("who", IDENTITIES)
@pytest.mark.parametrize("host", (HOST_A, HOST_B))
@pytest.mark.parametrize("endpoint", ("ports", "revision", "routers", "report"))
def test_agent_endpoint_matrix(http, bound, endpoint, host, who):
    resp = call(http, endpoint, host, who)
    status = expected(who, host)
    if status != 200:
        err = assert_error(resp, status)
        assert err["type"] == ("NotAuthenticated" if status == 401 else "PolicyNotAuthorized")
        return
    doc = ok(resp)
    assert doc["host"] == host
    if endpoint == "ports":   # host A also holds the router's gateway port
        ids = {p["port_id"] for p in doc["ports"]}
        other = HOST_B if host == HOST_A else HOST_A
        assert bound[host] in ids and bound[other] not in ids
    if endpoint == "routers":
        assert [r["router_id"] for r in doc["routers"]] == (
            [bound["router"]] if host == HOST_A else [])


AGENT_REFUSED = [
    ("GET", POLICIES, None), ("POST", POLICIES, {"policy": {"name": "x"}}),
    ("GET", "/v2.0/qos/rule-types", None), ("GET", "/v2.0/networks", None),
    ("POST", "/v2.0/networks", {"network": {"name": "x"}}), ("GET", "/v2.0/subnets", None),
    ("GET", "/v2.0/ports", None), ("GET", "/v2.0/routers", None),
    ("GET", "/v2.0/floatingips", None), ("GET", "/v2.0/rbac-policies", None),
    ("GET", "/v2.0/extensions", None), ("GET", "/v2.0/extensions/qos", None),
    ("GET", "/v2.0", None), ("GET", "/v2.0/agents", None), ("GET", "/metrics", None),
]


@pytest.mark.parametrize("who", ("agent-a", "agent-b"))
def test_agent_token_is_refused_everywhere_else(http, bound, who):
    for method, path, body in AGENT_REFUSED:
        assert_error(http.request(method, path, json=body, headers=as_(who)), 403,
                     "PolicyNotAuthorized")
    # Its own host's port, through the tenant API: refused too.
    port = f"/v2.0/ports/{bound[HOST_A]}"
    assert_error(http.get(port, headers=as_(who)), 403, "PolicyNotAuthorized")
    assert_error(http.put(port, headers=as_(who), json={"port": {"name": "x"}}), 403,
                 "PolicyNotAuthorized")
    assert_error(http.delete(port, headers=as_(who)), 403, "PolicyNotAuthorized")
    assert ok(http.get(port, headers=as_("admin")))["port"]["name"] == ""


def agent_row(http: httpx.Client, host: str) -> dict | None:
    agents = ok(http.get("/v2.0/agents", headers=as_("admin")))["agents"]
    return next((a for a in agents if a["host"] == host), None)


def test_report_touches_its_own_host_only(http, bound):
    report = {"report": {"agent": {"uplinks": {"eth1": 400000}},
                         "ports": [{"port_id": bound[HOST_A], "revision": 1},
                                   {"port_id": bound[HOST_B], "revision": 1}]}}
    # Host B's agent cannot forge host A's uplink capacities or port states.
    assert_error(http.post(f"{HOSTS}/{HOST_A}/report", headers=as_("agent-b"), json=report),
                 403, "PolicyNotAuthorized")
    assert agent_row(http, HOST_A) is None
    # Host A's agent reports for A; a port of host B in its report is ignored.
    assert ok(http.post(f"{HOSTS}/{HOST_A}/report", headers=as_("agent-a"),
                        json=report))["accepted"] == 2
    assert agent_row(http, HOST_A)["uplinks"] == {"eth1": 400000}
    state = lambda pid: ok(http.get(f"/v2.0/ports/{pid}", headers=as_("admin")))[  # noqa: E731
        "port"]["netqos:qos_state"]["applied_revision"]
    assert state(bound[HOST_A]) == 1
    assert state(bound[HOST_B]) is None


@pytest.mark.parametrize("who", IDENTITIES)
def test_agents_listing_is_admin_only(http, bound, who):
    ok(http.post(f"{HOSTS}/{HOST_B}/report", headers=as_("agent-b"),
                 json={"report": {"agent": {"uplinks": {}}}}))
    resp = http.get("/v2.0/agents", headers=as_(who))
    if who == "admin":
        assert HOST_B in {a["host"] for a in ok(resp)["agents"]}
    elif who in ("member", "reader"):
        # Neutron filters a listing by get_agent (admin only): an empty list, not a 403.
        assert ok(resp) == {"agents": []}
    else:
        assert_error(resp, 401 if who is None else 403)


@pytest.mark.parametrize("who", IDENTITIES)
def test_metrics_need_an_admin(http, who):
    resp = http.get("/metrics", headers=as_(who))
    if who == "admin":
        assert resp.status_code == 200 and "netqos_qos_policies" in resp.text
    else:
        assert_error(resp, 401 if who is None else 403)


def test_metrics_take_a_bearer_token(http):
    """What a Prometheus scrape job sends (`authorization: credentials_file: …`)."""
    resp = http.get("/metrics", headers={"Authorization": "Bearer t-admin"})
    assert resp.status_code == 200 and "netqos_http_requests_total" in resp.text
    assert_error(http.get("/metrics", headers={"Authorization": "Bearer nope"}), 401)
    assert_error(http.get("/metrics", headers={"Authorization": "Basic t-admin"}), 401)


# -- request bodies ----------------------------------------------------------------------

def padded(size: int) -> bytes:
    """A valid policy body of exactly `size` bytes (JSON allows trailing whitespace)."""
    doc = b'{"policy": {"name": "big"}}'
    return doc + b" " * (size - len(doc))


def test_body_at_the_limit_is_read_and_one_byte_more_is_413(http):
    resp = http.post(POLICIES, headers={**as_("admin"), "Content-Type": "application/json"},
                     content=padded(LIMIT))
    assert resp.status_code == 201, resp.text
    assert_error(http.post(POLICIES, headers=as_("admin"), content=padded(LIMIT + 1)),
                 413, "HTTPRequestEntityTooLarge")


def test_chunked_body_over_the_limit_is_413(http):
    def chunks():   # no Content-Length: the server counts as it reads
        body = padded(LIMIT + 65536)
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    assert_error(http.post(POLICIES, headers=as_("admin"), content=chunks()), 413,
                 "HTTPRequestEntityTooLarge")


class RawRequest:
    """Headers sent at once, then a body that is never finished, on a plain socket."""

    def __init__(self, url: str, token: str, framing: str):
        host, port = httpx.URL(url).host, httpx.URL(url).port
        self.sock = socket.create_connection((host, port), timeout=10)
        # within the limit (small), over it (huge), or unknown (chunked)
        length = {"small": "Content-Length: 1000", "huge": "Content-Length: 10000000000",
                  "chunked": "Transfer-Encoding: chunked"}[framing]
        self.sock.sendall((f"POST {POLICIES} HTTP/1.1\r\nHost: {host}\r\n"
                           f"Content-Type: application/json\r\nX-Auth-Token: {token}\r\n"
                           f"{length}\r\n\r\n").encode())
        self.framing, self.sent, self.stop = framing, 0, threading.Event()

    def feed_forever(self) -> None:
        piece = b"x" * 16384
        if self.framing == "chunked":
            piece = b"4000\r\n" + piece + b"\r\n"
        try:
            while not self.stop.is_set():
                self.sock.sendall(piece)
                self.sent += len(piece)
                time.sleep(0.001)
        except OSError:
            pass   # the server closed the connection: what we expect

    def status_line(self) -> str:
        data = b""
        while b"\r\n" not in data:
            more = self.sock.recv(4096)
            if not more:
                break
            data += more
        return data.split(b"\r\n")[0].decode()


@pytest.mark.parametrize("framing", ("small", "huge", "chunked"))
@pytest.mark.parametrize("token,status", [("wrong", 401), ("t-agent-a", 403)])
def test_no_body_is_read_before_authentication(server, framing, token, status):
    """A body announced and never sent, or sent without end: the refusal comes back before
    any byte of it (an unknown token: 401; a host credential on a tenant route: 403, or
    413 when the announced length is over the limit), then with the body streaming."""
    if framing == "huge" and status == 403:
        status = 413   # known caller, 10 GB announced: refused by length, unread
    quiet = RawRequest(server.url, token, framing)   # headers only, no body byte yet
    try:
        line = quiet.status_line()
        # 401: unknown; 403: known, but not for this route (an agent's host credential)
        assert line.startswith(f"HTTP/1.1 {status}"), line
    finally:
        quiet.sock.close()
    if framing == "small":
        return   # a streamed body would end: nothing more to prove
    streaming = RawRequest(server.url, token, framing)
    feeder = threading.Thread(target=streaming.feed_forever, daemon=True)
    feeder.start()
    try:
        assert streaming.status_line().startswith(f"HTTP/1.1 {status}")
    finally:
        streaming.stop.set()
        feeder.join(10)
        streaming.sock.close()
