"""GRE networks (Neutron's ML2 gre type driver), through real HTTP on SQLite and
PostgreSQL: provider GRE segments with 32-bit keys and Neutron's errors, admin-only,
tenant networks from --tunnel-id-ranges in --tenant-network-types order, release on
delete, MTU = underlay - 42, and the segment in the agents' host pull."""
from __future__ import annotations

import pytest

from tests.api.conftest import BOTH_DATABASES, assert_error, own_server, who
from tests.api.helpers_core import HOSTS, NETWORKS, PORTS, ok, unique
from tests.api.test_provider_networks import create, made, networks_client, segment

# GRE first, with two keys at the top of the 32-bit range (beyond PostgreSQL's INTEGER),
# then one VXLAN id; an underlay of 9000 bytes.
POOLS = ("--tenant-network-types", "gre,vxlan", "--tunnel-id-ranges",
         "4294967294:4294967295", "--vni-ranges", "4294:4294", "--global-physnet-mtu", "9000")
MEMBER = who("bb" * 16, "member", "reader")
TOP = 2**32 - 1


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def server(request, tmp_path_factory):
    yield from own_server(request, tmp_path_factory, "gre", POOLS)


api = pytest.fixture(name="api")(networks_client)


def test_tenant_networks_take_gre_keys_then_vxlan_then_run_out(api):
    nets = [made(api) for _ in range(2)]
    assert [segment(n) for n in nets] == [("gre", None, TOP - 1), ("gre", None, TOP)]
    assert {n["mtu"] for n in nets} == {9000 - 42}
    vxlan = made(api)
    assert segment(vxlan) == ("vxlan", None, 4294) and vxlan["mtu"] == 9000 - 50
    assert_error(create(api), 503, "NoNetworkAvailable")
    # Deleting a GRE network releases its key; the next tenant network gets it.
    ok(api.delete(f"{NETWORKS}/{nets[0]['id']}"), 204)
    again = made(api)
    assert segment(again) == ("gre", None, TOP - 1)
    assert ok(api.get(f"{NETWORKS}/{again['id']}"))["network"]["provider:segmentation_id"] \
        == TOP - 1


def test_provider_gre_segments_and_their_conflicts(api):
    gre = made(api, **{"provider:network_type": "gre", "provider:segmentation_id": 4294})
    assert segment(gre) == ("gre", None, 4294) and gre["mtu"] == 8958
    assert_error(create(api, **{"provider:network_type": "gre",
                                "provider:segmentation_id": 4294}), 409, "TunnelIdInUse")
    # A GRE key and a VXLAN id are different segments, even with the same number (their
    # pools are separate in Neutron too), so both exist.
    vxlan = made(api, **{"provider:network_type": "vxlan", "provider:segmentation_id": 4294})
    assert segment(vxlan) == ("vxlan", None, 4294)
    # A GRE network without a key takes one from the tenant range.
    partial = made(api, **{"provider:network_type": "gre"})
    assert segment(partial)[:2] == ("gre", None)
    assert TOP - 1 <= segment(partial)[2] <= TOP
    listed = ok(api.get(NETWORKS, params={"provider:network_type": "gre",
                                          "provider:segmentation_id": 4294}))["networks"]
    assert [n["id"] for n in listed] == [gre["id"]]
    assert_error(api.put(f"{NETWORKS}/{gre['id']}",
                         json={"network": {"mtu": 8959}}), 400, "InvalidInput")


@pytest.mark.parametrize("attrs, message", [
    ({"provider:network_type": "gre", "provider:physical_network": "physnet1"},
     "provider:physical_network specified for gre network"),
    ({"provider:network_type": "gre", "provider:segmentation_id": 0},
     "segmentation_id out of range (1 through 4294967295)"),
    ({"provider:network_type": "gre", "mtu": 8959}, "Requested MTU is too big, maximum is "
     "8958"),
])
def test_invalid_gre_requests(api, attrs, message):
    resp = create(api, **attrs)
    err = assert_error(resp, 400, "InvalidInput")
    assert err["message"] == f"Invalid input for operation: {message}.", resp.text


def test_a_key_beyond_32_bits_is_refused_by_the_attribute_check(api):
    resp = create(api, **{"provider:network_type": "gre", "provider:segmentation_id": 2**32})
    err = assert_error(resp, 400, "HTTPBadRequest")
    assert err["message"] == ("Invalid input for provider:segmentation_id. Reason: "
                              "'4294967296' is too large - must be no larger than "
                              "'4294967295'.")


def test_gre_is_an_admins(api):
    err = assert_error(create(api, MEMBER, **{"provider:network_type": "gre"}), 403,
                       "PolicyNotAuthorized")
    assert err["message"] == "rule:create_network:provider:network_type is disallowed by policy"
    net = made(api, MEMBER)          # a member's tenant network is a GRE one, unseen
    assert not any(k.startswith("provider:") for k in net)
    assert ok(api.get(f"{NETWORKS}/{net['id']}"))["network"]["provider:network_type"] == "gre"


def test_host_pull_carries_the_gre_segment(api):
    net = made(api, **{"provider:network_type": "gre", "provider:segmentation_id": 77})
    host = unique("host")
    port = ok(api.post(PORTS, json={"port": {"network_id": net["id"],
                                             "binding:host_id": host}}), 201)["port"]
    entry = ok(api.get(f"{HOSTS}/{host}/ports"))["ports"]
    assert [e["port_id"] for e in entry] == [port["id"]]
    assert entry[0]["network"] == {"network_id": net["id"], "network_type": "gre",
                                   "physical_network": None, "segmentation_id": 77,
                                   "mtu": 8958}
