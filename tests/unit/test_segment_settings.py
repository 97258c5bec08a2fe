"""Segment settings, from flags, NETQOS_* variables and the config file, as the server reads
them into its pools (netqos.config, netqos.service.segment_pools): no server."""
from __future__ import annotations

import pytest

from netqos.config import Settings
from netqos.qos.errors import InvalidInput
from netqos.service.segment_pools import Segment, SegmentPools


def test_defaults_are_vxlan_tenant_networks_on_a_1500_underlay():
    pools = SegmentPools.from_settings(Settings.load({}, env={}))
    assert pools.tenant_network_types == ("vxlan",)
    assert pools.vni_ranges == ((1, 2**24 - 1),)
    assert pools.mtu(Segment("vxlan", None, 5)) == 1450
    assert pools.mtu(Segment("flat", "public")) == 1500
    pools.check_provider(Segment("flat", "anything"))   # flat_networks = *


def test_environment_and_flags():
    env = {"NETQOS_TENANT_NETWORK_TYPES": "vlan, vxlan", "NETQOS_VNI_RANGES": "5:9,20:21",
           "NETQOS_NETWORK_VLAN_RANGES": "physnet1:100:199,physnet2",
           "NETQOS_FLAT_NETWORKS": "physnet1", "NETQOS_GLOBAL_PHYSNET_MTU": "9000"}
    pools = SegmentPools.from_settings(Settings.load({}, env=env))
    assert pools.tenant_network_types == ("vlan", "vxlan")
    assert pools.vni_ranges == ((5, 9), (20, 21))
    assert pools.vlan_ranges == {"physnet1": ((100, 199),), "physnet2": ()}
    assert pools.mtu(Segment("vxlan", None, 5)) == 8950
    with pytest.raises(InvalidInput, match="'public' unknown for flat"):
        pools.check_provider(Segment("flat", "public"))
    # A flag wins over the environment.
    flagged = Settings.load({"vni_ranges": "1:2"}, env=env)
    assert SegmentPools.from_settings(flagged).vni_ranges == ((1, 2),)


def test_config_file(tmp_path):
    conf = tmp_path / "netqos.conf"
    conf.write_text("[netqos]\ntenant-network-types = vlan\n"
                    "network_vlan_ranges = physnet3:7:8\nglobal_physnet_mtu = 1600\n")
    settings = Settings.load({"config": str(conf)}, env={})
    pools = SegmentPools.from_settings(settings)
    assert pools.tenant_network_types == ("vlan",) and pools.physnet_mtu == 1600
    assert pools.vlan_ranges == {"physnet3": ((7, 8),)}
    # Worker processes read the settings back from the environment: the same pools.
    assert SegmentPools.from_settings(Settings.load({}, env=settings.to_env())) == pools


@pytest.mark.parametrize("env", [{"NETQOS_VNI_RANGES": "9:5"}, {"NETQOS_VNI_RANGES": "x"},
                                 {"NETQOS_NETWORK_VLAN_RANGES": "physnet1:0:5"},
                                 {"NETQOS_NETWORK_VLAN_RANGES": ":1:2"}])
def test_bad_ranges_are_refused_at_start(env):
    with pytest.raises(ValueError):
        SegmentPools.from_settings(Settings.load({}, env=env))


def test_gre_keys_from_the_environment_and_the_config_file(tmp_path):
    """Neutron's [ml2_type_gre] tunnel_id_ranges: none by default (GRE tenant networks only
    when configured); keys up to 2**32-1; MTU = underlay - 42 (IPv4 20 + GRE with key 8 +
    inner Ethernet 14)."""
    assert SegmentPools.from_settings(Settings.load({}, env={})).tunnel_id_ranges == ()
    env = {"NETQOS_TENANT_NETWORK_TYPES": "vxlan,gre",
           "NETQOS_TUNNEL_ID_RANGES": "1:1000, 4294967290:4294967295"}
    pools = SegmentPools.from_settings(Settings.load({}, env=env))
    assert pools.tenant_network_types == ("vxlan", "gre")
    assert pools.tunnel_id_ranges == ((1, 1000), (2**32 - 6, 2**32 - 1))
    assert pools.tunnel_ranges("gre") == pools.tunnel_id_ranges
    assert pools.tunnel_ranges("vxlan") == pools.vni_ranges
    assert pools.mtu(Segment("gre", None, 5)) == 1458
    pools.check_provider(Segment("gre", None, 2**32 - 1))
    for bad, message in ((Segment("gre", "physnet1", 5),
                          "provider:physical_network specified for gre network"),
                         (Segment("gre", None, 2**32),
                          r"segmentation_id out of range \(1 through 4294967295\)")):
        with pytest.raises(InvalidInput, match=message):
            pools.check_provider(bad)
    conf = tmp_path / "netqos.conf"
    conf.write_text("[netqos]\ntunnel_id_ranges = 7:8\n")
    from_file = Settings.load({"config": str(conf)}, env={})
    assert SegmentPools.from_settings(from_file).tunnel_id_ranges == ((7, 8),)
    assert SegmentPools.from_settings(
        Settings.load({}, env=from_file.to_env())).tunnel_id_ranges == ((7, 8),)


@pytest.mark.parametrize("ranges", ["0:5", "5:4294967296", "9:5", "x"])
def test_bad_gre_key_ranges_are_refused_at_start(ranges):
    with pytest.raises(ValueError, match="tunnel_id_ranges"):
        SegmentPools.from_settings(Settings.load({}, env={"NETQOS_TUNNEL_ID_RANGES": ranges}))
