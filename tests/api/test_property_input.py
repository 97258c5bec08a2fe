"""Property: no client input yields a 5xx, and nothing an agent formats is ever stored with a
control character or an IPv6 scope id, on any resource, as member and as admin, on SQLite
and PostgreSQL (the api_server fixture runs the module once per database).

Every writable attribute of policies, the five rule types, networks, subnets, ports,
routers, floating IPs and RBAC entries is drawn from property_strategies (plausible values,
the same with a newline or a '%scope' spliced in, arbitrary JSON), for create, update and
list queries, plus tags; and each attribute alone made hostile in an otherwise valid body.
Runs are derandomized (the same examples every run, for CI), and bounded:
NETQOS_PROPERTY_EXAMPLES examples per resource and operation (default 30; a third of that
per attribute). The counts of requests, resources and attributes exercised are printed in
pytest's summary.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import POLICIES, new_project, who
from tests.api.helpers_core import (FLOATINGIPS, NETWORKS, PORTS, RBAC, ROUTERS, SUBNETS,
                                    next_v6, unique)
from tests.api.property_strategies import JUNK, SPLICES, World
from tests.harness.util import SUMMARY_LINES

EXAMPLES = int(os.environ.get("NETQOS_PROPERTY_EXAMPLES", "30"))
HOSTILE_EXAMPLES = max(EXAMPLES // 3, 5)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

RULE_TYPES = ("bandwidth_limit", "dscp_marking", "minimum_bandwidth", "minimum_packet_rate",
              "packet_rate_limit")
# collection -> (member key, path of the world's object it updates, tag-able)
RESOURCES = {
    "policies": ("policy", POLICIES, True),
    **{f"{t}_rules": (f"{t}_rule", None, False) for t in RULE_TYPES},
    "networks": ("network", NETWORKS, True),
    "subnets": ("subnet", SUBNETS, True),
    "ports": ("port", PORTS, True),
    "routers": ("router", ROUTERS, True),
    "floatingips": ("floatingip", FLOATINGIPS, True),
    "rbac-policies": ("rbac_policy", RBAC, False),
}
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Fields of each view that an agent formats into root's text.
AGENT_FIELDS = {
    "ports": ("mac_address", "fixed_ips", "device_owner", "device_id", "binding:host_id",
              "binding:profile", "allowed_address_pairs"),
    "subnets": ("cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes"),
    "routers": ("external_gateway_info",),
    "floatingips": ("floating_ip_address", "fixed_ip_address"),
    "networks": ("provider:network_type", "provider:physical_network"),
}
ADDRESS_FIELDS = {"mac_address", "fixed_ips", "cidr", "gateway_ip", "allocation_pools",
                  "dns_nameservers", "host_routes", "external_gateway_info",
                  "floating_ip_address", "fixed_ip_address", "allowed_address_pairs"}

STATS: Counter = Counter()
ATTRIBUTES: set[tuple[str, str]] = set()


class Caller:
    """Sends a request as member or admin; counts it; fails the test on any 5xx."""

    def __init__(self, client: httpx.Client, member: dict, admin: dict):
        self.client, self.headers = client, {"member": member, "admin": admin}

    def __call__(self, role: str, method: str, path: str, **kw) -> httpx.Response:
        STATS["requests"] += 1
        headers = dict(self.headers[role])
        if "json" in kw:  # json.dumps as Python's default: NaN and Infinity go through
            kw["content"] = json.dumps(kw.pop("json")).encode()
            headers["Content-Type"] = "application/json"
        resp = self.client.request(method, path, headers=headers, **kw)
        assert resp.status_code < 500, (role, method, path, kw, resp.status_code, resp.text)
        return resp


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_in(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def assert_clean(view: dict, fields, where: str) -> None:
    for field in fields:
        for text in strings_in(view.get(field)):
            assert not CONTROL.search(text), (where, field, text)
            if field in ADDRESS_FIELDS:
                assert "%" not in text, (where, field, text)


@pytest.fixture(scope="module")
def caller(api_server):
    """Per database: a client, and at the end the counts (on the terminal, and as JSON in
    $NETQOS_PROPERTY_COUNTS if set)."""
    STATS.clear()
    ATTRIBUTES.clear()
    project = new_project()
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        yield Caller(client, who(project, "member"), who(project, "admin", "member"))
    database = api_server.database_url.split(":", 1)[0].split("+")[0]
    line = f"[{database}] " + _report_line(STATS, ATTRIBUTES)
    SUMMARY_LINES.append(line)
    out = os.environ.get("NETQOS_PROPERTY_COUNTS")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"database": database, "summary": line,
                                "counts": dict(STATS),
                                "attributes": sorted(f"{r}.{a}" for r, a in ATTRIBUTES)})
                    + "\n")


@pytest.fixture(scope="module")
def world(caller) -> World:
    """A network with v4 and v6 subnets, an external network, a policy, a port bound to a
    host, a router with a gateway, a floating IP and an RBAC entry, all in one project."""
    def make(role, path, root, body):
        resp = caller(role, "POST", path, json={root: body})
        assert resp.status_code == 201, resp.text
        return resp.json()[root]

    n = os.getpid() % 200
    v4, v6, ext4 = f"198.18.{n}.0/24", next_v6(), f"198.19.{n}.0/24"
    host = unique("prop-host")
    ids = {"policy": make("admin", POLICIES, "policy", {"name": "prop"})["id"]}
    ids["network"] = make("member", NETWORKS, "network", {"name": "prop"})["id"]
    ids["subnet"] = make("member", SUBNETS, "subnet", {"network_id": ids["network"],
                                                       "ip_version": 4, "cidr": v4})["id"]
    ids["subnet6"] = make("member", SUBNETS, "subnet", {"network_id": ids["network"],
                                                        "ip_version": 6, "cidr": v6})["id"]
    ids["ext_network"] = make("admin", NETWORKS, "network", {"router:external": True})["id"]
    ids["ext_subnet"] = make("admin", SUBNETS, "subnet", {"network_id": ids["ext_network"],
                                                          "ip_version": 4, "cidr": ext4})["id"]
    ids["port"] = make("admin", PORTS, "port", {"network_id": ids["network"],
                                                "binding:host_id": host})["id"]
    ids["router"] = make("member", ROUTERS, "router", {
        "external_gateway_info": {"network_id": ids["ext_network"]}})["id"]
    added = caller("member", "PUT", f"{ROUTERS}/{ids['router']}/add_router_interface",
                   json={"subnet_id": ids["subnet"]})
    assert added.status_code == 200, added.text
    # Its gateway on the world's host, as the L3 scheduler would: the host's L3 document
    # then carries the router's and its floating IPs' addresses.
    gw = caller("admin", "GET", PORTS, params={"device_id": ids["router"],
                                               "device_owner": "network:router_gateway"})
    [gw_port] = gw.json()["ports"]
    bound = caller("admin", "PUT", f"{PORTS}/{gw_port['id']}",
                   json={"port": {"binding:host_id": host}})
    assert bound.status_code == 200, bound.text
    ids["floatingip"] = make("member", FLOATINGIPS, "floatingip",
                             {"floating_network_id": ids["ext_network"]})["id"]
    ids["rbac"] = make("admin", RBAC, "rbac_policy", {
        "object_type": "qos_policy", "object_id": ids["policy"],
        "action": "access_as_shared", "target_tenant": new_project()})["id"]
    return World(v4_prefix=v4.rsplit(".", 1)[0] + ".", v6_prefix=v6.split("/")[0],
                 ext_v4_prefix=ext4.rsplit(".", 1)[0] + ".", ids=ids, host=host,
                 project=caller.headers["member"]["X-Project-Id"])


def collection_path(world: World, resource: str) -> str:
    if resource.endswith("_rules"):
        return f"{POLICIES}/{world.ids['policy']}/{resource}"
    return RESOURCES[resource][1]


def check_created(caller: Caller, world: World, resource: str, view: dict) -> None:
    """What was stored is clean, in the API's view and in the agent's host document."""
    assert_clean(view, AGENT_FIELDS.get(resource, ()), resource)
    if resource in ("routers", "floatingips"):
        doc = caller("admin", "GET", f"/v2.0/netqos/hosts/{world.host}/routers")
        assert doc.status_code == 200, doc.text
        for router in doc.json()["routers"]:  # none once an update removed the gateway
            assert not any(CONTROL.search(t) for t in strings_in(router)), router
            addresses = [*router["gw_ips"], *(a for f in router["floatingips"]
                                               for a in (f["floating_ip_address"],
                                                         f["fixed_ip_address"]) if a)]
            assert not any("%" in a for a in addresses), router
    host = view.get("binding:host_id")
    if resource == "ports" and host:
        doc = caller("admin", "GET", f"/v2.0/netqos/hosts/{quote(host, safe='')}/ports")
        assert doc.status_code == 200, doc.text
        for port in doc.json()["ports"]:
            for text in strings_in(port):
                assert not CONTROL.search(text), ("host document", text)
            assert_clean(port, ("mac_address", "fixed_ips"), "host document")


def _count(resource: str, verb: str, body: dict) -> None:
    STATS[f"{verb} {resource}"] += 1
    if verb in ("create", "update", "hostile"):
        ATTRIBUTES.update((resource, a) for a in body)


def _accepted(resource: str, verb: str) -> None:
    """Counted so that a run where every value is refused shows as such."""
    STATS[f"{verb} {resource} accepted"] += 1


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_create(caller, world, resource):
    @SETTINGS
    @given(body=world.body(resource, creating=True), role=st.sampled_from(["member", "admin"]))
    def run(body, role):
        create_and_check(caller, world, resource, role, body, "create")

    run()


def create_and_check(caller: Caller, world: World, resource: str, role: str, body: dict,
                     verb: str) -> None:
    """POST the body; if it was accepted, check what was stored, then delete it."""
    _count(resource, verb, body)
    member, path = RESOURCES[resource][0], collection_path(world, resource)
    resp = caller(role, "POST", path, json={member: body})
    if resp.status_code == 201:
        _accepted(resource, verb)
        view = resp.json()[member]
        check_created(caller, world, resource, view)
        caller("admin", "DELETE", f"{path}/{view['id']}")


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_update(caller, world, resource):
    member = RESOURCES[resource][0]
    path = collection_path(world, resource)
    if resource.endswith("_rules"):
        target = _a_rule(caller, path, member)
    else:
        target = _world_id(world, resource)

    @SETTINGS
    @given(body=world.body(resource, creating=False), role=st.sampled_from(["member", "admin"]))
    def run(body, role):
        _count(resource, "update", body)
        resp = caller(role, "PUT", f"{path}/{target}", json={member: body})
        if resp.status_code == 200:
            _accepted(resource, "update")
            check_created(caller, world, resource, resp.json()[member])

    run()


def _attribute_names() -> list[tuple[str, str]]:
    """(resource, attribute) for every writable attribute, known before any server runs."""
    ids = defaultdict(lambda: "00000000-0000-0000-0000-000000000000")
    dummy = World("", "", "", ids, "")
    return [(r, a) for r in RESOURCES for a in sorted(dummy.attributes(r)[0])]


@pytest.mark.parametrize("resource,attribute", _attribute_names())
def test_hostile_attribute(caller, world, resource, attribute):
    """Each attribute hostile in an otherwise plausible body, as admin (whom authorization
    lets through, so only validation stands between the value and the database)."""
    @settings(SETTINGS, max_examples=HOSTILE_EXAMPLES)
    @given(body=world.with_hostile(resource, attribute))
    def run(body):
        create_and_check(caller, world, resource, "admin", body, "hostile")

    run()


def _a_rule(caller: Caller, path: str, member: str) -> str:
    values = {"bandwidth_limit_rule": {"max_kbps": 1000}, "dscp_marking_rule": {"dscp_mark": 26},
              "minimum_bandwidth_rule": {"min_kbps": 10},
              "minimum_packet_rate_rule": {"min_kpps": 10},
              "packet_rate_limit_rule": {"max_kpps": 1000}}[member]
    resp = caller("admin", "POST", path, json={member: values})
    assert resp.status_code == 201, resp.text
    return resp.json()[member]["id"]


QUERY_VALUES = st.one_of(st.text(max_size=12), st.sampled_from(
    ["-1", "0", "1", "9" * 30, "asc", "desc", "true", "maybe", "id", "name", "*", ""]),
    st.builds(lambda s, c: s + c, st.sampled_from(["id", "name", "10"]),
              st.sampled_from(SPLICES)))


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_list(caller, world, resource):
    keys = sorted(world.attributes(resource)[0]) + [
        "id", "status", "fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse",
        "tags", "tags-any", "not-tags", "not-tags-any", "revision_number", "created_at"]
    key = st.sampled_from(keys) | st.text(max_size=8)

    @SETTINGS
    @given(params=st.lists(st.tuples(key, QUERY_VALUES), max_size=4),
           role=st.sampled_from(["member", "admin"]))
    def run(params, role):
        _count(resource, "list", dict(params))
        if caller(role, "GET", collection_path(world, resource), params=params).is_success:
            _accepted(resource, "list")

    run()


TAGGED = [r for r, (_, _, taggable) in RESOURCES.items() if taggable]


@pytest.mark.parametrize("resource", TAGGED)
def test_tags(caller, world, resource):
    path = f"{RESOURCES[resource][1]}/" + _world_id(world, resource)

    @SETTINGS
    @given(tag=st.text(max_size=300) | st.sampled_from(["a" * 256, "t\n", "x/y"]),
           tags=st.lists(st.text(max_size=20), max_size=4) | JUNK,
           role=st.sampled_from(["member", "admin"]))
    def run(tag, tags, role):
        _count(resource, "tags", {"tag": tag})
        caller(role, "PUT", f"{path}/tags/{quote(tag, safe='')}")
        caller(role, "GET", f"{path}/tags/{quote(tag, safe='')}")
        caller(role, "PUT", f"{path}/tags", json={"tags": tags})
        caller(role, "DELETE", f"{path}/tags/{quote(tag, safe='')}")

    run()


@pytest.mark.parametrize("action", ["add_router_interface", "remove_router_interface"])
def test_router_interface_bodies(caller, world, action):
    """The router actions take a plain body: {subnet_id} or {port_id}, or anything else."""
    ids = st.sampled_from([world.ids["subnet"], world.ids["subnet6"], world.ids["port"]])
    bodies = st.fixed_dictionaries({}, optional={"subnet_id": ids | JUNK,
                                                 "port_id": ids | JUNK}) | JUNK

    @SETTINGS
    @given(body=bodies, role=st.sampled_from(["member", "admin"]))
    def run(body, role):
        _count("routers", action, {})
        caller(role, "PUT", f"{ROUTERS}/{world.ids['router']}/{action}", json=body)

    run()


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_paths_and_show_fields(caller, world, resource):
    """Any id in the path (show, update, delete), and any `fields` on a show."""
    member = RESOURCES[resource][0]
    path = collection_path(world, resource)
    real = _world_id(world, resource) if not resource.endswith("_rules") else None

    @SETTINGS
    @given(obj_id=st.text(max_size=40) | st.just(real or ""),
           fields=st.lists(QUERY_VALUES | st.sampled_from(["id", "name", "tenant_id"]),
                           max_size=3),
           body=JUNK, role=st.sampled_from(["member", "admin"]))
    def run(obj_id, fields, body, role):
        _count(resource, "path", {})
        item = f"{path}/{quote(obj_id, safe='')}"
        caller(role, "GET", item, params=[("fields", f) for f in fields])
        if obj_id != real:  # the world's objects stay
            caller(role, "PUT", item, json={member: body})
            caller(role, "DELETE", item)

    run()


AGENT_INFO = st.fixed_dictionaries({}, optional={
    "agent_type": st.sampled_from(["netqos", "netqos-l3"]) | JUNK,
    "started": st.booleans() | JUNK,
    "backends": st.lists(st.sampled_from(["linuxtc", "openvswitch"]), max_size=2) | JUNK,
    "capabilities": st.dictionaries(st.text(max_size=5), JUNK, max_size=2) | JUNK,
    "uplinks": st.dictionaries(st.sampled_from(["eth0", "bond0"]),
                               st.integers(0, 10**8) | JUNK, max_size=2) | JUNK,
    "configurations": st.dictionaries(st.sampled_from(["heartbeat_interval", "netns"]),
                                      JUNK, max_size=2) | JUNK}) | JUNK


def test_host_report(caller, world):
    """What an agent reports (heartbeat, uplink capacities, per-port results)."""
    host = world.host + "-report"

    @SETTINGS
    @given(agent=AGENT_INFO, ports=st.lists(st.fixed_dictionaries(
        {"port_id": st.just(world.ids["port"]) | JUNK, "revision": st.integers(0, 9) | JUNK},
        optional={"status": st.sampled_from(["ACTIVE", "ERROR"]) | JUNK, "reason": JUNK,
                  "drift": JUNK}), max_size=2) | JUNK)
    def run(agent, ports):
        _count("hosts", "report", {})
        report = {"agent": agent, "ports": ports}
        caller("admin", "POST", f"/v2.0/netqos/hosts/{host}/report", json={"report": report})
        caller("admin", "GET", "/v2.0/agents")

    run()


OTHER_GETS = ["/v2.0/agents", "/v2.0/qos/rule-types", "/v2.0/qos/rule-types/{text}",
              "/v2.0/extensions", "/v2.0/extensions/{text}", "/v2.0/netqos/hosts/{text}/ports",
              "/v2.0/netqos/hosts/{text}/routers", "/v2.0/netqos/hosts/{text}/revision",
              "/v2.0/qos/alias_bandwidth_limit_rules/{text}"]


@pytest.mark.parametrize("template", OTHER_GETS)
def test_other_reads(caller, world, template):
    """The reads outside the five-operation resources, with any path text and query."""
    @SETTINGS
    @given(text=st.text(max_size=20), params=st.lists(st.tuples(
        st.sampled_from(["port_id", "router_id", "fields", "limit", "marker"])
        | st.text(max_size=6), QUERY_VALUES), max_size=3),
        role=st.sampled_from(["member", "admin"]))
    def run(text, params, role):
        _count("other", "read", {})
        caller(role, "GET", template.format(text=quote(text, safe="") or "x"), params=params)

    run()


def _world_id(world: World, resource: str) -> str:
    return world.ids[{"policies": "policy", "rbac-policies": "rbac"}.get(
        resource, resource.rstrip("s"))]


def _report_line(stats: Counter, attributes: set) -> str:
    """One line: requests, resources, attributes, and examples per operation (with how
    many the server accepted, so a run where everything is refused shows as such)."""
    tried: Counter = Counter()
    accepted: Counter = Counter()
    for key, n in stats.items():
        if key != "requests":
            verb = key.split()[0]
            (accepted if key.endswith(" accepted") else tried)[verb] += n
    resources = {r for r, _ in attributes}
    return (f"property test: {stats['requests']} requests, {len(resources)} resources, "
            f"{len(attributes)} attributes; examples: " + ", ".join(
                f"{verb} {n}" + (f" ({accepted[verb]} accepted)" if verb in accepted else "")
                for verb, n in sorted(tried.items())))
