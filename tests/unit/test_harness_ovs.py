"""The Open vSwitch harness runs a private switch that really makes bridges."""

import os

import pytest

from tests.harness import ovs
from tests.harness.netns import run
from tests.harness.util import wait_for

pytestmark = pytest.mark.dataplane


def test_private_switch_makes_a_bridge():
    if os.geteuid() != 0 or not ovs.installed():
        pytest.skip("needs root and openvswitch-switch")
    br = f"nqbr{os.getpid() % 100000}"
    with ovs.OvsServer() as switch:
        switch.vsctl("add-br", br, "--", "set", "bridge", br, f"datapath_type={switch.datapath_type}")
        assert br in switch.vsctl("list-br").split()
        # The kernel sees it, once ovs-vswitchd's next main-loop pass made its tap (about a
        # second on a loaded machine).
        assert wait_for(lambda: run("ip", "link", "show", br, check=False).returncode == 0,
                        timeout=10)
    assert run("ip", "link", "show", br, check=False).returncode != 0  # and it is gone


def test_fixture_gives_a_running_switch(ovs_server):
    assert ovs_server.vsctl("show")
