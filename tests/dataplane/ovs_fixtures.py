"""Fixtures of the Open vSwitch dataplane tests: a private switch (ovs_server), a netdev
bridge with namespace "VMs" plugged by iface-id, and an OvsBackend on that bridge."""
from __future__ import annotations

import itertools
import os

import pytest

from netqos.agent.backends.ovs import OvsBackend
from tests.harness.ovslab import OvsLab

_count = itertools.count()


@pytest.fixture
def ovs_lab(ovs_server):
    n = next(_count)
    with OvsLab(ovs_server.env, ovs_server.db, bridge=f"nqo{os.getpid() % 0xFFFF:x}x{n}",
                datapath_type=ovs_server.datapath_type,
                prefix=f"nq-ovs-{os.getpid()}-{n}-") as lab:
        lab.server = ovs_server
        yield lab


def make_backend(lab) -> OvsBackend:
    return OvsBackend(bridge=lab.bridge, ovsdb=lab.db, rundir=lab.env["OVS_RUNDIR"])


@pytest.fixture
def ovs_backend(ovs_lab):
    backend = make_backend(ovs_lab)
    yield backend
    backend.close()
