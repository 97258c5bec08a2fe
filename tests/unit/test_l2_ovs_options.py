"""--tunnel-types of the OVS L2 role: vxlan accepted; gre refused with its reason (OVS here
carries GRE, netqos networks have no GRE segment); anything else refused by name."""
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


def test_gre_refused_with_the_reason():
    with pytest.raises(SystemExit, match="--tunnel-types gre: not supported: netqos networks "
                                         "have no gre segment type"):
        parse("--tunnel-types", "vxlan,gre", "--local-ip", "198.18.0.1")


def test_unknown_type_refused_by_name():
    with pytest.raises(SystemExit, match="unsupported geneve"):
        parse("--tunnel-types", "geneve")
