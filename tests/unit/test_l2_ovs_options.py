"""--tunnel-types of the OVS L2 role: vxlan and gre accepted (OVS's userspace datapath
carries both here: bench/l2_ovs.py tunnels), vxlan the default with a --local-ip;
anything else refused by name."""
from __future__ import annotations

import argparse

import pytest

from netqos.agent.l2.linuxbridge import options as lb_options
from netqos.agent.l2.openvswitch import options


def parse(*argv: str):
    ap = argparse.ArgumentParser()
    lb_options.add_arguments(ap)
    options.add_arguments(ap)
    return options.from_args(ap.parse_args(["--l2", "openvswitch", *argv]))


def test_vxlan_accepted_and_the_default_with_a_local_ip():
    assert parse("--tunnel-types", "vxlan", "--local-ip", "198.18.0.1").tunnel_types == ("vxlan",)
    assert parse("--local-ip", "198.18.0.1").tunnel_types == ("vxlan",)


def test_gre_accepted_alone_or_beside_vxlan():
    both = parse("--tunnel-types", "vxlan, gre,vxlan", "--local-ip", "198.18.0.1")
    assert both.tunnel_types == ("vxlan", "gre")
    assert both.tunnels("gre") and both.tunnels("vxlan")
    gre = parse("--tunnel-types", "gre", "--local-ip", "198.18.0.1")
    assert gre.tunneling and gre.tunnels("gre") and not gre.tunnels("vxlan")
    # Without a tunnel endpoint nothing is tunnelled, whatever the types say.
    assert not parse("--tunnel-types", "gre").tunnels("gre")


def test_unknown_type_refused_by_name():
    with pytest.raises(SystemExit, match=r"unsupported geneve \(supported: vxlan, gre\)"):
        parse("--tunnel-types", "geneve")
