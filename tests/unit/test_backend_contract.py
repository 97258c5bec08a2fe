"""The backend contract (netqos.agent.backends.base): every registered backend implements
all of it, and the loop and the operator's commands use nothing else of a backend."""
from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest

from netqos.agent import registry
from netqos.agent.backends.base import Backend, PortBackend, RouterBackend
from netqos.cli.agent_cmds import make_backend
from netqos.cli.client import UsageError
from netqos.qos.backends import BackendSupport

SRC = Path(__file__).resolve().parents[2] / "src" / "netqos"


@pytest.mark.parametrize("name", registry.available())
def test_registered_backends_implement_the_whole_contract(name):
    cls = registry.load(name)
    assert issubclass(cls, (PortBackend, RouterBackend)), cls
    assert not inspect.isabstract(cls), inspect.getmembers(cls)
    support = inspect.getattr_static(cls, "support")
    if isinstance(support, property):   # decided by the host (OVS: by its datapath)
        return
    assert isinstance(support, BackendSupport)
    # A router backend serves no vnic type (it never owns a port); a port backend some.
    assert bool(support.vnic_types) == issubclass(cls, PortBackend), support


def test_the_loop_and_commands_do_not_probe_backends():
    """No getattr/hasattr on a backend, no reading of its private attributes."""
    for path in ("agent/loop.py", "cli/status_cmds.py", "cli/agent_cmds.py"):
        text = (SRC / path).read_text()
        assert not re.search(r"(getattr|hasattr)\((self\.)?(agent\.)?backend", text), path
        assert not re.search(r"backend\._\w+", text), path
    assert "getattr" not in (SRC / "agent/backends/base.py").read_text()


def test_describe_is_what_the_heartbeat_carries():
    """A linuxtc backend reports its table and device kind (capabilities as reported, so
    no probe creates devices here)."""
    backend = registry.load("linuxtc")()
    backend.use_reported({"act_police": False})
    info = backend.describe()
    assert info["agent_type"] == "netqos" and info["backends"] == ["linuxtc"]
    assert BackendSupport.from_wire(info["support"]) == backend.support
    assert info["configurations"] == {"device_kind": "link"}
    assert info["capabilities"] == {"act_police": False}
    assert isinstance(backend, Backend)


def test_one_backend_per_agent_is_said_clearly():
    args = argparse.Namespace(backend="linuxtc,sriov", uplink=[], netns=None)
    with pytest.raises(UsageError, match="one backend per agent"):
        make_backend(args)
