"""The "l2" block of a host pull (service/l2.py) and the host revisions that announce it:
what each host's L2 agent is told about its ports' networks, the other hosts' ports on
them and their tunnel IPs, and which changes move which host's revision."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import own_api, own_server
from tests.api.helpers_core import ok
from tests.harness.util import wait_for


@pytest.fixture(scope="module", params=["sqlite"])
def server(request, tmp_path_factory):
    yield from own_server(request, tmp_path_factory, "l2pull")


api = pytest.fixture(name="api")(own_api)


def vxlan(api, vni: int) -> str:
    return ok(api.post("/v2.0/networks", json={"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": vni}}), 201)["network"]["id"]


def port(api, net: str, host: str | None, **attrs) -> dict:
    return ok(api.post("/v2.0/ports", json={"port": {
        "network_id": net, "binding:host_id": host, **attrs}}), 201)["port"]


def heartbeat(api, host: str, local_ip: str) -> None:
    ok(api.post(f"/v2.0/netqos/hosts/{host}/report", json={"report": {
        "agent": {"configurations": {"local_ip": local_ip, "l2": "linuxbridge"}}}}))


def pull(api, host: str) -> dict:
    return ok(api.get(f"/v2.0/netqos/hosts/{host}/ports"))


def rev(api, host: str) -> int:
    return ok(api.get(f"/v2.0/netqos/hosts/{host}/revision"))["revision"]


def test_host_pull_carries_its_wiring_and_its_peers(api):
    h1, h2, h3 = (f"l2p-{i}-{uuid.uuid4().hex[:6]}" for i in range(3))
    for i, h in enumerate((h1, h2, h3)):
        heartbeat(api, h, f"198.18.7.{i + 1}")
    red, blue = vxlan(api, 7101), vxlan(api, 7102)
    p1, p2 = port(api, red, h1), port(api, red, h2)
    p3 = port(api, blue, h3)
    port(api, red, None)                                      # unbound: nobody's

    l2 = pull(api, h1)["l2"]
    assert l2["networks"] == [{"network_id": red, "network_type": "vxlan",
                               "physical_network": None, "segmentation_id": 7101,
                               "mtu": 1450}]
    assert l2["ports"] == [{"port_id": p1["id"], "mac_address": p1["mac_address"],
                            "network_id": red, "admin_state_up": True, "device": None}]
    assert l2["remote"] == [{"host": h2, "local_ip": "198.18.7.2", "network_id": red,
                             "macs": [p2["mac_address"]]}]
    assert pull(api, h3)["l2"]["remote"] == []                # alone on blue
    assert "l2" not in ok(api.get(f"/v2.0/netqos/hosts/{h1}/ports",
                                  params={"port_id": p1["id"]}))

    def moved(change) -> set[str]:
        before = {h: rev(api, h) for h in (h1, h2, h3)}
        change()
        return {h for h in (h1, h2, h3) if rev(api, h) != before[h]}

    # A port bound on red elsewhere moves red's hosts, not blue's.
    p4 = {}
    assert moved(lambda: p4.update(port(api, red, h3))) == {h1, h2, h3}
    assert moved(lambda: port(api, blue, h3)) == {h3}
    # Another agent's tunnel IP: the hosts sharing a network with it.
    assert moved(lambda: heartbeat(api, h2, "198.18.7.22")) == {h1, h3}
    assert pull(api, h1)["l2"]["remote"][0]["local_ip"] == "198.18.7.22"
    assert moved(lambda: heartbeat(api, h2, "198.18.7.22")) == set()   # unchanged
    # Admin state: the port's own host.
    assert moved(lambda: ok(api.put(f"/v2.0/ports/{p1['id']}", json={
        "port": {"admin_state_up": False}}))) == {h1}
    assert pull(api, h1)["l2"]["ports"][0]["admin_state_up"] is False
    # Unbound, moved, deleted: everyone on the network.
    assert moved(lambda: ok(api.put(f"/v2.0/ports/{p2['id']}", json={
        "port": {"binding:host_id": None}}))) == {h1, h2, h3}
    assert [r["host"] for r in pull(api, h1)["l2"]["remote"]] == [h3]
    assert pull(api, h2)["l2"] == {"networks": [], "ports": [], "remote": []}
    assert moved(lambda: ok(api.put(f"/v2.0/ports/{p4['id']}", json={
        "port": {"binding:host_id": h2}}))) == {h1, h2, h3}    # from h3 to h2
    assert moved(lambda: ok(api.delete(f"/v2.0/ports/{p4['id']}"), 204)) == {h1, h2}
    assert pull(api, h1)["l2"]["remote"] == []
    # The network's MTU is in the block of its hosts.
    assert moved(lambda: ok(api.put(f"/v2.0/networks/{blue}", json={
        "network": {"mtu": 1400}}))) == {h3}
    assert pull(api, h3)["l2"]["networks"][0]["mtu"] == 1400
    assert p3["id"] in [p["port_id"] for p in pull(api, h3)["l2"]["ports"]]


def test_a_dead_agents_host_stays_a_tunnel_endpoint(api):
    """As Neutron's l2population: a host whose agent stopped reporting keeps its flood and
    MAC entries at its peers (its kernel wiring still carries its VMs' traffic)."""
    h1, h2 = (f"l2d-{i}-{uuid.uuid4().hex[:6]}" for i in range(2))

    def beat(host: str, ip: str) -> None:   # dead after 3 missed 1 s heartbeats
        ok(api.post(f"/v2.0/netqos/hosts/{host}/report", json={"report": {"agent": {
            "configurations": {"local_ip": ip, "heartbeat_interval": 1}}}}))

    beat(h1, "198.18.8.1")
    beat(h2, "198.18.8.2")
    red = vxlan(api, 7201)
    port(api, red, h1)
    p2 = port(api, red, h2)
    want = [{"host": h2, "local_ip": "198.18.8.2", "network_id": red,
             "macs": [p2["mac_address"]]}]
    assert pull(api, h1)["l2"]["remote"] == want
    # h2 goes quiet (h1 keeps beating): after 3 s it is dead, and still h1's peer.
    assert wait_for(lambda: beat(h1, "198.18.8.1") or not next(
        a for a in ok(api.get("/v2.0/agents"))["agents"] if a["host"] == h2)["alive"],
        10, interval=0.5)
    assert pull(api, h1)["l2"]["remote"] == want
