"""The libvirt backend's pure parts: unit conversions, which NIC is which port, and the
libvirt-native enforcement path (setInterfaceParameters LIVE then CONFIG, drift read from
the kernel) driven against a FAKE domain that records calls — this machine's kernel cannot
run libvirt's own bandwidth code (no sfq, cls_fw, act_police), so that path is only tested
here; the tc-on-tap path runs for real in tests/dataplane/test_libvirt.py."""
from __future__ import annotations

from fractions import Fraction

import pytest

from netqos.agent.libvirt import native, units
from netqos.agent.libvirt.domains import match, parse_domain
from netqos.wire import PortQos

PORT = "3f2a9c1e-77aa-4d2b-9c1e-0123456789ab"


@pytest.mark.parametrize("kbps,kB", [(0, 0), (1, 1), (3, 1), (4, 1), (8, 1), (12, 2),
                                     (10_000, 1250), (50_000, 6250), (1_000_001, 125_000),
                                     (1_000_004, 125_001)])
def test_rate_to_libvirt(kbps, kB):
    assert units.kbit_per_s_to_kilobytes_per_s(kbps) == kB


def test_rates_round_trip_exactly_when_divisible():
    for kbps in (8, 800, 10_000, 2**31 - 1 - (2**31 - 1) % 8):
        assert units.kilobytes_per_s_to_kbit_per_s(
            units.kbit_per_s_to_kilobytes_per_s(kbps)) == kbps


@pytest.mark.parametrize("kbit,kib", [(0, 0), (1, 1), (8192, 1000), (8, 1), (16, 2),
                                      (1000, 122)])
def test_burst_to_libvirt(kbit, kib):
    assert units.kbit_to_kib(kbit) == kib
    assert units.kib_to_kbit(1000) == 8192 and units.kib_to_kbit(1) == Fraction(1024, 125)


def xml(nics: str, metadata: str = "") -> str:
    return (f"<domain type='qemu'><name>web1</name><uuid>u-1</uuid><devices>{nics}</devices>"
            f"{metadata}</domain>")


NIC = ("<interface type='bridge'><mac address='{mac}'/><source bridge='br0'/>"
       "{target}<model type='virtio'/></interface>")


def nic(mac: str, tap: str | None) -> str:
    return NIC.format(mac=mac, target=f"<target dev='{tap}'/>" if tap else "")


def qos(port_id: str, mac: str = "", device: str | None = None) -> PortQos:
    return PortQos(port_id=port_id, revision=1, mac_address=mac, device=device,
                   rules=({"type": "bandwidth_limit", "max_kbps": 10_000,
                           "max_burst_kbps": 0, "direction": "ingress"},))


def test_parse_and_match_by_tap_name_mac_and_metadata():
    meta = ("<metadata><netqos:ports xmlns:netqos='http://netqos.org/xmlns/libvirt/1'>"
            "<netqos:port id='p-meta' mac='52:54:00:00:00:03'/></netqos:ports></metadata>")
    nics = parse_domain(xml(nic("52:54:00:00:00:01", "tap" + PORT[:11])
                            + nic("52:54:00:00:00:02", "vnet7")
                            + nic("52:54:00:00:00:03", "vnet8")
                            + nic("52:54:00:00:00:04", None), meta))
    assert [(n.index, n.tap, n.port_id) for n in nics] == [
        (0, "tap" + PORT[:11], None), (1, "vnet7", None), (2, "vnet8", "p-meta"),
        (3, None, None)]
    found, rest = match([qos(PORT, "02:00:00:00:00:99"),      # by tap name
                         qos("p-mac", "52:54:00:00:00:02"),   # by MAC (case-insensitive)
                         qos("p-meta"),                       # by metadata
                         qos("p-off", "52:54:00:00:00:04"),   # its domain NIC has no tap
                         qos("p-none", "52:54:00:00:00:77")], nics)
    got = {p.port_id: (p.device, p.mac_address) for p, _ in found}
    assert got == {PORT: ("tap" + PORT[:11], "52:54:00:00:00:01"),  # the guest's real MAC
                   "p-mac": ("vnet7", "52:54:00:00:00:02"),
                   "p-meta": ("vnet8", "52:54:00:00:00:03")}
    assert [p.port_id for p in rest] == ["p-off", "p-none"]


def test_metadata_without_mac_names_a_single_nic():
    meta = ("<metadata><n:ports xmlns:n='http://netqos.org/xmlns/libvirt/1'>"
            "<n:port id='p1'/></n:ports></metadata>")
    nics = parse_domain(xml(nic("52:54:00:00:00:01", "vnet0"), meta))
    assert nics[0].port_id == "p1"


class FakeDomain:
    def __init__(self, params=None, persistent=True):
        self.params = dict.fromkeys(native.KEYS, 0) | (params or {})
        self.calls: list[tuple] = []
        self.persistent = persistent

    def interfaceParameters(self, dev, flags):
        return dict(self.params)

    def setInterfaceParameters(self, dev, params, flags):
        if flags not in (native.AFFECT_LIVE, native.AFFECT_CONFIG):
            raise AssertionError("LIVE|CONFIG together is refused by the binding")
        self.calls.append((dev, dict(params), flags))
        if flags == native.AFFECT_LIVE:
            self.params.update(params)

    def isPersistent(self):
        return self.persistent


class FakeDomains:
    def __init__(self, dom):
        self.dom = dom

    def domain(self, uuid):
        return self.dom


class FakeRunner:
    def __init__(self, qdiscs):
        self.qdiscs = qdiscs

    def tc_json(self, *args):
        return self.qdiscs


def test_native_path_live_then_config_and_drift_from_the_kernel():
    p = PortQos(port_id="p1", revision=1, mac_address="52:54:00:00:00:01", rules=(
        {"type": "bandwidth_limit", "max_kbps": 10_000, "max_burst_kbps": 8192,
         "direction": "ingress"},
        {"type": "bandwidth_limit", "max_kbps": 50_000, "max_burst_kbps": 0,
         "direction": "egress"}))
    nics = parse_domain(xml(nic("52:54:00:00:00:01", "vnet0")))
    found, _ = match([p], nics)
    want = native.wanted_params(found[0][0])
    assert want == {"inbound.average": 1250, "inbound.peak": 0, "inbound.burst": 1000,
                    "outbound.average": 6250, "outbound.peak": 0, "outbound.burst": 0}
    dom = FakeDomain()
    domains = FakeDomains(dom)
    runner = FakeRunner([])
    changes = native.plan(found, native.observe(domains, runner, found), {})
    assert len(changes) == 1 and not changes[0].drift
    native.apply_one(domains, changes[0].payload)
    assert [(c[0], c[2]) for c in dom.calls] == [("vnet0", native.AFFECT_LIVE),
                                                 ("52:54:00:00:00:01", native.AFFECT_CONFIG)]
    # libvirt reports the limits and the kernel has them: nothing to do
    runner.qdiscs = [{"dev": "vnet0", "kind": "htb", "root": True},
                     {"dev": "vnet0", "kind": "ingress"}]
    assert native.plan(found, native.observe(domains, runner, found), {"p1": want}) == []
    # someone deleted the root qdisc: libvirt still reports it; the kernel read-back sees it
    runner.qdiscs = [{"dev": "vnet0", "kind": "ingress"}]
    again = native.plan(found, native.observe(domains, runner, found), {"p1": want})
    assert len(again) == 1 and again[0].drift and "kernel lost it" in again[0].detail


def test_backend_mode_follows_the_kernel_probe():
    from netqos.agent.backends.libvirt import LibvirtBackend

    b = LibvirtBackend(domains=FakeDomains(None), tc=object())
    b._probe = {"sfq": False, "cls_fw": True, "police": True}
    assert b.mode == "tc"
    b = LibvirtBackend(domains=FakeDomains(None), tc=object())
    b._probe = {"sfq": True, "cls_fw": True, "police": True}
    assert b.mode == "libvirt"


def test_mac_fallback_only_for_a_mac_unique_on_the_host():
    """A project chooses its port's MAC: a second port of the host with the victim's MAC
    (another network) must not win the victim's NIC, nor may a MAC two NICs carry."""
    nics = parse_domain(xml(nic("52:54:00:00:00:01", "vnet1")
                            + nic("52:54:00:00:00:02", "vnet2")
                            + nic("52:54:00:00:00:02", "vnet3")))
    victim, attacker = qos("p-victim", "52:54:00:00:00:01"), qos("p-att", "52:54:00:00:00:01")
    found, rest = match([attacker, victim], nics)
    assert found == [] and [p.port_id for p in rest] == ["p-att", "p-victim"]
    found, _ = match([victim], nics)                     # alone, the fallback holds
    assert [(p.port_id, n.tap) for p, n in found] == [("p-victim", "vnet1")]
    found, rest = match([qos("p-two", "52:54:00:00:00:02")], nics)   # two NICs: neither
    assert found == [] and [p.port_id for p in rest] == ["p-two"]
    # by tap name the port is still found whatever MAC another port claims
    mine = qos("p-tap", "52:54:00:00:00:01", device="vnet1")
    found, _ = match([mine, attacker], nics)
    assert [(p.port_id, n.tap) for p, n in found] == [("p-tap", "vnet1")]


def test_a_nic_with_a_malformed_mac_or_tap_is_never_formatted():
    nics = parse_domain(xml(nic("52:54:00:00:00:01\nx", "vnet1")
                            + nic("52:54:00:00:00:02", "vnet 2 root")))
    assert [(n.mac, n.tap) for n in nics] == [("", "vnet1"), ("52:54:00:00:00:02", None)]
