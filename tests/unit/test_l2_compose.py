"""A host's "l2" block as the server composes it, read back by the agent's model."""
from __future__ import annotations

from netqos.l2compose import BoundPort, compose
from netqos.agent.l2.model import L2Desired

VX, VX2, FLAT = "vx-net-0000001", "vx-net-0000002", "flat-net-00001"
SEGMENTS = {VX: {"network_type": "vxlan", "segmentation_id": 1001, "mtu": 1450},
            VX2: {"network_type": "vxlan", "segmentation_id": 1002, "mtu": 1450},
            FLAT: {"network_type": "flat", "physical_network": "physnet1", "mtu": 1500}}
IPS = {"h1": "198.18.100.1", "h2": "198.18.100.2", "h3": "198.18.100.3"}


def port(n: int, net: str, host: str, up: bool = True) -> BoundPort:
    return BoundPort(f"port-{n:04d}", f"fa:16:3e:00:00:{n:02x}", net, host, up)


PORTS = [port(1, VX, "h1"), port(2, VX, "h2"), port(3, VX, "h2"), port(4, VX2, "h3"),
         port(5, FLAT, "h1", up=False), port(6, FLAT, "h3"), port(7, VX, "h4")]


def test_host_gets_its_ports_segments_and_remote_tunnel_endpoints():
    block = compose("h1", PORTS, SEGMENTS, IPS)
    assert [n["network_id"] for n in block["networks"]] == [FLAT, VX]
    assert block["networks"][1] == {"network_id": VX, "network_type": "vxlan",
                                    "physical_network": None, "segmentation_id": 1001,
                                    "mtu": 1450}
    assert [(p["port_id"], p["admin_state_up"]) for p in block["ports"]] == [
        ("port-0001", True), ("port-0005", False)]
    # VXLAN only (flat needs no tunnel); h3 has no port on VX; h4 reported no tunnel IP.
    assert block["remote"] == [{"host": "h2", "local_ip": "198.18.100.2", "network_id": VX,
                                "macs": ["fa:16:3e:00:00:02", "fa:16:3e:00:00:03"]}]


def test_host_without_ports_gets_an_empty_block_and_the_agent_reads_it():
    block = compose("h9", PORTS, SEGMENTS, IPS)
    assert block == {"networks": [], "ports": [], "remote": []}
    desired = L2Desired.from_wire({"l2": compose("h1", PORTS, SEGMENTS, IPS)})
    assert len(desired.ports) == 2 and desired.refused == {}
    assert [r.local_ip for r in desired.remote_of(VX)] == ["198.18.100.2"]


def test_port_on_a_network_without_segment_is_refused_by_the_agent():
    block = compose("h1", [port(8, "no-segment-net", "h1")], SEGMENTS, IPS)
    assert block["networks"] == []
    assert "no segment" in L2Desired.from_wire(block).refused["port-0008"]


def test_gre_networks_get_their_remote_endpoints_as_vxlan_ones_do():
    gre = "gre-net-000001"
    segments = {**SEGMENTS, gre: {"network_type": "gre", "segmentation_id": 2**32 - 1,
                                  "mtu": 1458}}
    ports = [port(11, gre, "h1"), port(12, gre, "h3"), port(13, VX, "h1")]
    block = compose("h1", ports, segments, IPS)
    assert block["remote"] == [{"host": "h3", "local_ip": "198.18.100.3", "network_id": gre,
                                "macs": ["fa:16:3e:00:00:0c"]}]
    desired = L2Desired.from_wire({"l2": block})
    assert desired.networks[gre].segmentation_id == 2**32 - 1 and not desired.refused
