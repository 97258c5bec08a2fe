"""Helpers for the tests of the resources QoS binds to: networks, subnets, ports, routers,
floating IPs and RBAC entries, created through the real API and removed when a test ends.

    def test_x(api, core, new_policy):
        net = core.network()                       # as admin of fake_project_id
        sub = core.subnet(net)                     # a fresh /24 of 198.18.0.0/15
        port = core.port(net, host=core.host())    # bound to a host no other test uses
        doc = host_ports(api, port["binding:host_id"])

Test data lives in 198.18.0.0/15 (internal) / 198.19.0.0/16 (external networks) and
fd00:198:18::/48, as RFC 2544 and RFC 4193 reserve them for this.
"""
from __future__ import annotations

import itertools
import os
import uuid

import httpx
import pytest

NETWORKS = "/v2.0/networks"
SUBNETS = "/v2.0/subnets"
PORTS = "/v2.0/ports"
ROUTERS = "/v2.0/routers"
FLOATINGIPS = "/v2.0/floatingips"
RBAC = "/v2.0/rbac-policies"
HOSTS = "/v2.0/netqos/hosts"

# A different third octet per subnet, per process (servers are shared by the session and
# subnets of different networks may overlap, but distinct ranges read better in logs).
_octets = itertools.count((os.getpid() * 7) % 200)


def next_v4(external: bool = False) -> str:
    n = next(_octets)
    return f"198.19.{n % 256}.0/24" if external else f"198.18.{n % 256}.0/24"


def next_v6() -> str:
    return f"fd00:198:18:{next(_octets) % 65536:x}::/64"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ok(resp: httpx.Response, status: int = 200) -> dict:
    assert resp.status_code == status, (resp.request.method, str(resp.request.url),
                                        resp.status_code, resp.text)
    return resp.json() if status != 204 else {}


def host_ports(api: httpx.Client, host: str) -> dict:
    """GET /v2.0/netqos/hosts/{host}/ports as admin: {"host", "revision", "ports"}."""
    doc = ok(api.get(f"{HOSTS}/{host}/ports"))
    assert doc["host"] == host
    return doc


def host_port(api: httpx.Client, host: str, port_id: str) -> dict:
    """One port's entry in its host's document."""
    doc = host_ports(api, host)
    found = [p for p in doc["ports"] if p["port_id"] == port_id]
    assert len(found) == 1, doc
    return found[0]


def host_revision(api: httpx.Client, host: str) -> int:
    doc = ok(api.get(f"{HOSTS}/{host}/revision"))
    assert doc["host"] == host
    return doc["revision"]


def report_agent(api: httpx.Client, host: str, uplinks: dict[str, int],
                 backends=("linuxtc",)) -> None:
    body = {"report": {"agent": {"backends": list(backends), "uplinks": uplinks}, "ports": []}}
    ok(api.post(f"{HOSTS}/{host}/report", json=body))


class Core:
    """Creates resources (as admin unless `headers` say otherwise) and deletes whatever is
    left of them, as admin, in dependency order when the test ends."""

    def __init__(self, client: httpx.Client):
        self.api = client
        self.created: dict[str, list[str]] = {k: [] for k in (
            "floatingips", "ports", "routers", "subnets", "networks", "rbac")}

    @staticmethod
    def host() -> str:
        return unique("host")

    def _post(self, path: str, root: str, body: dict, headers: dict | None) -> dict:
        return ok(self.api.post(path, json={root: body}, headers=headers or {}), 201)[root]

    def network(self, headers: dict | None = None, **attrs) -> dict:
        attrs.setdefault("name", unique("net"))
        net = self._post(NETWORKS, "network", attrs, headers)
        self.created["networks"].append(net["id"])
        return net

    def external_network(self, **attrs) -> tuple[dict, dict]:
        """An external network (admin only) with one IPv4 subnet."""
        net = self.network(**{"router:external": True, **attrs})
        return net, self.subnet(net, cidr=next_v4(external=True))

    def subnet(self, net: dict, headers: dict | None = None, ip_version: int = 4,
               **attrs) -> dict:
        attrs.setdefault("cidr", next_v4() if ip_version == 4 else next_v6())
        body = {"network_id": net["id"], "ip_version": ip_version, **attrs}
        subnet = self._post(SUBNETS, "subnet", body, headers)
        self.created["subnets"].append(subnet["id"])
        return subnet

    def port(self, net: dict, headers: dict | None = None, host: str | None = None,
             **attrs) -> dict:
        body = {"network_id": net["id"], **attrs}
        if host is not None:
            body["binding:host_id"] = host
        port = self._post(PORTS, "port", body, headers)
        self.created["ports"].append(port["id"])
        return port

    def router(self, headers: dict | None = None, **attrs) -> dict:
        attrs.setdefault("name", unique("router"))
        router = self._post(ROUTERS, "router", attrs, headers)
        self.created["routers"].append(router["id"])
        return router

    def floatingip(self, ext_net: dict, headers: dict | None = None, **attrs) -> dict:
        fip = self._post(FLOATINGIPS, "floatingip",
                         {"floating_network_id": ext_net["id"], **attrs}, headers)
        self.created["floatingips"].append(fip["id"])
        return fip

    def rbac(self, object_type: str, object_id: str, target: str,
             headers: dict | None = None) -> dict:
        entry = self._post(RBAC, "rbac_policy", {
            "object_type": object_type, "object_id": object_id,
            "action": "access_as_shared", "target_tenant": target}, headers)
        self.created["rbac"].append(entry["id"])
        return entry

    def add_interface(self, router: dict, headers: dict | None = None, **target) -> dict:
        return ok(self.api.put(f"{ROUTERS}/{router['id']}/add_router_interface", json=target,
                               headers=headers or {}))

    def update(self, path: str, obj_id: str, root: str, headers: dict | None = None,
               **attrs) -> httpx.Response:
        return self.api.put(f"{path}/{obj_id}", json={root: attrs}, headers=headers or {})

    def cleanup(self) -> None:
        api = self.api
        for fip in self.created["floatingips"]:
            _gone(api.delete(f"{FLOATINGIPS}/{fip}"))
        for router in self.created["routers"]:
            ports = ok(api.get(PORTS, params={"device_id": router,
                                              "device_owner": "network:router_interface"}))
            for p in ports["ports"]:
                _gone(api.put(f"{ROUTERS}/{router}/remove_router_interface",
                              json={"port_id": p["id"]}))
            _gone(api.delete(f"{ROUTERS}/{router}"))
        for port in self.created["ports"]:
            _gone(api.delete(f"{PORTS}/{port}"))
        for entry in self.created["rbac"]:
            _gone(api.delete(f"{RBAC}/{entry}"))
        for subnet in self.created["subnets"]:
            _gone(api.delete(f"{SUBNETS}/{subnet}"))
        for net in self.created["networks"]:
            _gone(api.delete(f"{NETWORKS}/{net}"))


def _gone(resp: httpx.Response) -> None:
    assert resp.status_code in (200, 204, 404), (resp.request.method, str(resp.request.url),
                                                 resp.status_code, resp.text)


@pytest.fixture
def core(api, new_policy):
    """Depends on new_policy so that bindings go before the policies they use."""
    factory = Core(api)
    yield factory
    factory.cleanup()
