"""Provider networks and tenant segments (Neutron's `provider` extension), through real HTTP
on SQLite and PostgreSQL: admin-only attributes with Neutron's errors, tenant segments from
the configured pools, release on delete, MTU from the segment, the segment in the agents'
host pull, and no double allocation under concurrent creates on PostgreSQL."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api.conftest import BOTH_DATABASES, assert_error, own_server, who
from tests.api.helpers_core import HOSTS, NETWORKS, PORTS, ok, unique
from tests.harness.server import ServerProcess

# Small pools, so exhaustion and reuse are reachable; a physical underlay of 9000 bytes.
POOLS = ("--tenant-network-types", "vxlan,vlan", "--vni-ranges", "100:102",
         "--network-vlan-ranges", "physnet1:10:11,physnet2", "--flat-networks",
         "public,physnet1", "--global-physnet-mtu", "9000")
MEMBER = who("aa" * 16, "member", "reader")


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def server(request, tmp_path_factory):
    yield from own_server(request, tmp_path_factory, "provider", POOLS)


def networks_client(server):
    """A client of `server` that deletes the networks `made` gave it (and their ports)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        made: list[str] = []
        client.made = made
        yield client
        for net_id in reversed(made):
            for port in client.get(PORTS, params={"network_id": net_id}).json()["ports"]:
                client.delete(f"{PORTS}/{port['id']}")
            assert client.delete(f"{NETWORKS}/{net_id}").status_code in (204, 404)


api = pytest.fixture(name="api")(networks_client)


def create(api, headers=None, **attrs):
    attrs.setdefault("name", unique("net"))
    return api.post(NETWORKS, json={"network": attrs}, headers=headers or {})


def made(api, headers=None, **attrs) -> dict:
    net = ok(create(api, headers, **attrs), 201)["network"]
    api.made.append(net["id"])
    return net


def segment(net: dict) -> tuple:
    return (net["provider:network_type"], net["provider:physical_network"],
            net["provider:segmentation_id"])


def test_tenant_networks_take_vxlan_then_vlan_then_run_out(api):
    nets = [made(api) for _ in range(3)]
    assert [segment(n) for n in nets] == [("vxlan", None, 100), ("vxlan", None, 101),
                                          ("vxlan", None, 102)]
    assert {n["mtu"] for n in nets} == {9000 - 50}
    # The VXLAN pool is empty: the next type, VLAN, from physnet1's range (physnet2 has
    # none for tenants).
    vlans = [made(api) for _ in range(2)]
    assert [segment(n) for n in vlans] == [("vlan", "physnet1", 10), ("vlan", "physnet1", 11)]
    assert {n["mtu"] for n in vlans} == {9000}
    err = assert_error(create(api), 503, "NoNetworkAvailable")
    assert "No tenant network is available" in err["message"]
    # Deleting a network releases its segment; the next network gets it.
    ok(api.delete(f"{NETWORKS}/{nets[1]['id']}"), 204)
    assert segment(made(api)) == ("vxlan", None, 101)


def test_provider_segments_and_their_conflicts(api):
    flat = made(api, **{"provider:network_type": "flat", "provider:physical_network": "public",
                        "router:external": True})
    assert segment(flat) == ("flat", "public", None) and flat["mtu"] == 9000
    assert_error(create(api, **{"provider:network_type": "flat",
                                "provider:physical_network": "public"}), 409,
                 "FlatNetworkInUse")
    vlan = made(api, **{"provider:network_type": "vlan", "provider:physical_network": "physnet2",
                        "provider:segmentation_id": 4094})
    assert segment(vlan) == ("vlan", "physnet2", 4094)
    assert_error(create(api, **{"provider:network_type": "vlan",
                                "provider:physical_network": "physnet2",
                                "provider:segmentation_id": 4094}), 409, "VlanIdInUse")
    vxlan = made(api, **{"provider:network_type": "vxlan", "provider:segmentation_id": 5000})
    assert segment(vxlan) == ("vxlan", None, 5000) and vxlan["mtu"] == 8950
    assert_error(create(api, **{"provider:network_type": "vxlan",
                                "provider:segmentation_id": "5000"}), 409, "TunnelIdInUse")
    local = made(api, **{"provider:network_type": "local"})
    assert segment(local) == ("local", None, None)
    assert segment(made(api, **{"provider:network_type": "local"})) == ("local", None, None)
    # A VLAN on a physnet without naming the id: one from that physnet's tenant range.
    assert segment(made(api, **{"provider:network_type": "vlan",
                                "provider:physical_network": "physnet1"}))[0] == "vlan"
    # The segment is listed and filtered on, and shown again.
    listed = ok(api.get(NETWORKS, params={"provider:network_type": "flat"}))["networks"]
    assert [n["id"] for n in listed] == [flat["id"]]
    assert segment(ok(api.get(f"{NETWORKS}/{vlan['id']}"))["network"]) == segment(vlan)


@pytest.mark.parametrize("attrs, message", [
    ({"provider:network_type": "geneve"}, "network_type value 'geneve' not supported"),
    ({"provider:physical_network": "public"}, "network_type required"),
    ({"provider:network_type": "flat"}, "physical_network required for flat provider network"),
    ({"provider:network_type": "flat", "provider:physical_network": "nowhere"},
     "physical_network 'nowhere' unknown for flat provider network"),
    ({"provider:network_type": "flat", "provider:physical_network": "public",
      "provider:segmentation_id": 3}, "segmentation_id prohibited for flat provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet9"},
     "physical_network 'physnet9' unknown for VLAN provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 4095}, "segmentation_id out of range (1 through 4094)"),
    ({"provider:network_type": "vlan", "provider:segmentation_id": 12},
     "segmentation_id requires physical_network for VLAN provider network"),
    ({"provider:network_type": "vxlan", "provider:physical_network": "physnet1"},
     "provider:physical_network specified for VXLAN network"),
    ({"provider:network_type": "vxlan", "provider:segmentation_id": 2**24},
     "segmentation_id out of range (1 through 16777215)"),
    ({"provider:network_type": "local", "provider:segmentation_id": 1},
     "segmentation_id prohibited for local provider network"),
    ({"mtu": 9001}, "Requested MTU is too big, maximum is 8950"),
])
def test_invalid_provider_requests(api, attrs, message):
    err = assert_error(create(api, **attrs), 400, "InvalidInput")
    assert err["message"] == f"Invalid input for operation: {message}."


def test_provider_attributes_are_an_admins(api):
    for name, value in (("provider:network_type", "vxlan"),
                        ("provider:physical_network", "public"),
                        ("provider:segmentation_id", 7)):
        err = assert_error(create(api, MEMBER, **{name: value}), 403, "PolicyNotAuthorized")
        assert err["message"] == f"rule:create_network:{name} is disallowed by policy"
    # A member's network gets a tenant segment that only an admin sees.
    net = made(api, MEMBER)
    assert not any(k.startswith("provider:") for k in net)
    shown = ok(api.get(f"{NETWORKS}/{net['id']}"))["network"]
    assert shown["provider:network_type"] in ("vxlan", "vlan")
    assert_error(api.put(f"{NETWORKS}/{net['id']}", headers=MEMBER,
                         json={"network": {"provider:segmentation_id": 9}}),
                 403, "PolicyNotAuthorized")


def test_segment_cannot_change_but_mtu_can_shrink(api):
    net = made(api, **{"provider:network_type": "vxlan", "provider:segmentation_id": 6000})
    url = f"{NETWORKS}/{net['id']}"
    err = assert_error(api.put(url, json={"network": {"provider:segmentation_id": 6001}}), 400,
                       "InvalidInput")
    assert "updating provider attributes" in err["message"]
    # Restating the same segment is not a change.
    ok(api.put(url, json={"network": {"provider:segmentation_id": 6000}}))
    assert ok(api.put(url, json={"network": {"mtu": 1400}}))["network"]["mtu"] == 1400
    assert_error(api.put(url, json={"network": {"mtu": 8951}}), 400, "InvalidInput")


def test_host_pull_carries_each_ports_segment(api):
    net = made(api, **{"provider:network_type": "vlan", "provider:physical_network": "physnet2",
                       "provider:segmentation_id": 333})
    host = unique("host")
    port = ok(api.post(PORTS, json={"port": {"network_id": net["id"],
                                             "binding:host_id": host}}), 201)["port"]
    entry = ok(api.get(f"{HOSTS}/{host}/ports"))["ports"]
    assert [e["port_id"] for e in entry] == [port["id"]]
    assert entry[0]["network"] == {"network_id": net["id"], "network_type": "vlan",
                                   "physical_network": "physnet2", "segmentation_id": 333,
                                   "mtu": 9000}
    # The fields agents read before segments existed are still there, unchanged.
    assert {"port_id", "revision", "mac_address", "fixed_ips", "vnic_type", "device",
            "policy_id", "rules", "profile"} <= set(entry[0])


@pytest.mark.postgres
def test_concurrent_creates_never_share_a_segment(postgres_server, tmp_path):
    """Two server processes on one PostgreSQL, 24 clients at once on a pool of 20 VNIs:
    20 networks with 20 different VNIs, the rest refused with 503, nothing doubled."""
    url = postgres_server.fresh_database(prefix="nq_segments")
    srv = ServerProcess(url, extra_args=("--workers", "2", "--vni-ranges", "7000:7019"),
                        log_dir=tmp_path)
    with srv, httpx.Client(base_url=srv.url, timeout=60,
                           limits=httpx.Limits(max_connections=24)) as client:
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda i: create(client, name=f"c{i}"), range(24)))
        created = [r.json()["network"] for r in answers if r.status_code == 201]
        refused = [r for r in answers if r.status_code != 201]
        vnis = sorted(n["provider:segmentation_id"] for n in created)
        assert vnis == list(range(7000, 7020)), vnis
        assert len(refused) == 4
        for r in refused:
            assert_error(r, 503, "NoNetworkAvailable")
        # Released on delete, concurrently too, and handed out again.
        with ThreadPoolExecutor(8) as pool:
            gone = list(pool.map(lambda n: client.delete(f"{NETWORKS}/{n['id']}"), created))
        assert {r.status_code for r in gone} == {204}
        again = ok(create(client), 201)["network"]
        assert again["provider:segmentation_id"] == 7000


@pytest.mark.parametrize("physnet", ["public\n", "pub lic", "eth0%1", "\x00x", "a" * 65,
                                     12, ["public"]])
def test_a_hostile_physical_network_is_refused(api, physnet):
    """Agents name bridges and map interfaces by it: it is a name or nothing."""
    resp = create(api, **{"provider:network_type": "flat",
                          "provider:physical_network": physnet})
    assert resp.status_code == 400, resp.text
