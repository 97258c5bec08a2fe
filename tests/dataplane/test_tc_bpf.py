"""The port classifier's eBPF program and map, loaded into this kernel (needs root)."""
from __future__ import annotations

import json

from tests.harness.netns import sh
from netqos.agent.tc import bpf


def test_program_loads_and_its_map_is_edited_through_the_attached_filter(lab):
    assert bpf.can_load()
    sh("ip", "-n", lab.host, "link", "add", "nqbpf0", "type", "veth", "peer", "name", "nqbpf1")
    sh("tc", "-n", lab.host, "qdisc", "add", "dev", "nqbpf0", "ingress_block", "77", "clsact")
    path = bpf.pin_new_program(f"test-{lab.host}")
    try:
        sh("tc", "-n", lab.host, "filter", "add", "block", "77", "protocol", "all", "pref", "1",
           "bpf", "da", "object-pinned", path)
    finally:
        bpf.unpin(path)
    [f] = [f for f in json.loads(sh("tc", "-n", lab.host, "-j", "filter", "show", "block",
                                    "77").stdout) if f.get("options")]
    assert f["options"]["direct-action"]
    with bpf.PortMap(f["options"]["prog"]["id"]) as ports:
        assert ports.items() == {}
        ports.set(7, 0x4E510010)
        ports.set(9, 0x4E510011)
        ports.set(7, 0x4E510012)
        assert ports.items() == {7: 0x4E510012, 9: 0x4E510011}
        ports.delete(9)
        ports.delete(9)   # gone already: no error
        assert ports.items() == {7: 0x4E510012}
