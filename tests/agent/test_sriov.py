"""The SR-IOV backend against a FAKE sysfs tree and a RECORDING netlink layer.

This machine has no SR-IOV NIC, no VFs and no netdevsim, so nothing here touches real
hardware: tests/harness/sriov.py builds the sysfs tree in a tmp dir, and its `FakeNetlink`
stands in for VfNetlink.
What is verified: PF/VF resolution, Mbit/s rounding, the read-back of the other rate,
clearing, drift, and refusals (by the backend, and by the server through the API).
"""
from __future__ import annotations

import uuid

import httpx
import pytest

from netqos.agent.backends.sriov import SriovBackend
from netqos.wire import PortQos
from netqos.agent.sriov.rates import kbps_to_vf_mbps
from netqos.agent.sriov.sysfs import Sysfs, VfRef

from tests.harness.sriov import PF, PF_SLOT, FakeNetlink, make_sysfs, vf_slot


@pytest.fixture
def sysfs(tmp_path):
    return make_sysfs(tmp_path)


def port(n: int = 1, rules=(), vnic="direct", slot: str | None = None) -> PortQos:
    return PortQos(port_id=f"{n:08x}-0000-4000-8000-000000000000", revision=1,
                   vnic_type=vnic, rules=tuple(rules),
                   profile={"pci_slot": slot if slot is not None else vf_slot(n)})


def bw(kbps: int, burst: int = 0, direction: str = "egress") -> dict:
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": burst,
            "direction": direction}


def minimum(kbps: int) -> dict:
    return {"type": "minimum_bandwidth", "min_kbps": kbps, "direction": "egress"}


def test_vf_and_pf_from_sysfs(sysfs):
    fs = Sysfs(sysfs)
    assert fs.vf(vf_slot(2)) == VfRef(PF, 2, vf_slot(2))
    assert fs.vf(PF_SLOT) is None             # the PF itself has no physfn
    assert fs.vf("0000:00:1f.6") is None      # not a VF
    assert fs.vf("0000:99:00.0") is None      # not there


@pytest.mark.parametrize("kbps,mbps", [(0, 0), (1, 1), (500, 1), (999, 1), (1000, 1),
                                       (1499, 1), (1500, 2), (2499, 2), (2500, 3),
                                       (10_000, 10), (10_499, 10), (10_500, 11),
                                       (2**31 - 1, 2147484)])
def test_rounding_to_mbit(kbps, mbps):
    assert kbps_to_vf_mbps(kbps) == mbps


def test_locate_only_vf_ports_with_a_pci_slot(sysfs):
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=FakeNetlink())
    here, missing = backend.locate([port(1), port(2, vnic="normal"), port(3, slot=""),
                                    port(4, vnic="macvtap", slot=vf_slot(3)),
                                    port(5, slot="0000:00:1f.6")])
    assert [(p.port_id[:8], p.device) for p in here] == [("00000001", "ens1f0 vf 1"),
                                                          ("00000004", "ens1f0 vf 3")]
    assert [p.port_id[:8] for p in missing] == ["00000002", "00000003", "00000005"]


def test_max_rate_sends_the_min_it_reads_back(sysfs):
    """A guarantee someone set (min 300) survives setting the limit: it is read back."""
    nl = FakeNetlink({1: (0, 300)})
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(1, [bw(10_500)])])[0]
    changes, result = backend.sync([p])
    assert [c.what for c in changes] == ["max_tx_rate of ens1f0 vf 1"]
    assert nl.calls == [(PF, 1, 11, 300)]
    assert result.applied == [p.port_id] and not result.errors
    assert backend.sync([p])[0] == []         # idempotent: nothing more to do


def test_min_rate_sends_the_max_it_reads_back(sysfs):
    nl = FakeNetlink({2: (40, 0)})
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(2, [minimum(999)])])[0]
    backend.sync([p])
    assert nl.calls == [(PF, 2, 40, 1)]       # 999 kbit/s -> 1 Mbit/s, max kept at 40


def test_both_rates_in_one_call_and_cleared_when_rules_go(sysfs):
    nl = FakeNetlink()
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(1, [bw(20_000), minimum(5_000)])])[0]
    backend.sync([p])
    assert nl.calls == [(PF, 1, 20, 5)]
    # the policy loses its limit: max goes back to 0, the guarantee stays
    p2 = PortQos(**{**p.__dict__, "rules": (minimum(5_000),)})
    backend.sync([p2])
    assert nl.calls[-1] == (PF, 1, 0, 5)
    # the port leaves the host: what we set is cleared
    backend.sync([])
    assert nl.calls[-1] == (PF, 1, 0, 0)
    assert nl.vfs[PF][1] == (0, 0)


def test_drift_is_repaired_and_flagged(sysfs):
    nl = FakeNetlink()
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(3, [bw(100_000)])])[0]
    backend.sync([p])
    nl.vfs[PF][3] = (0, 0)                     # `ip link set ens1f0 vf 3 max_tx_rate 0`
    changes, result = backend.sync([p])
    assert [c.drift for c in changes] == [True]
    assert result.drift_repaired == {p.port_id: ["max_tx_rate of ens1f0 vf 3"]}
    assert nl.vfs[PF][3] == (100, 0)


@pytest.mark.parametrize("rule,why", [
    (bw(10_000, direction="ingress"), "bandwidth_limit (ingress)"),
    (bw(10_000, burst=1000), "bandwidth_limit (egress) with a burst"),
    ({"type": "dscp_marking", "dscp_mark": 26}, "dscp_marking"),
])
def test_backend_skips_what_the_nic_cannot_do(sysfs, rule, why):
    nl = FakeNetlink()
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(1, [rule])])[0]
    changes, result = backend.sync([p])
    assert [c.action for c in changes] == ["skip"] and why in changes[0].what
    assert result.errors[p.port_id].startswith("SR-IOV cannot enforce")
    assert nl.calls == []


def test_rule_types_and_refusals_through_the_api(sqlite_server):
    """The server refuses (409) what a VF port cannot carry: ingress limits, bursts, DSCP;
    and /v2.0/qos/rule-types shows the SR-IOV driver's narrow parameters."""
    with httpx.Client(base_url=sqlite_server.url + "/v2.0", timeout=10) as api:
        tag = uuid.uuid4().hex[:6]

        def post(path, key, body, status=201):
            r = api.post(path, json={key: body})
            assert r.status_code == status, r.text
            return r.json()

        net = post("/networks", "network", {"name": f"sriov-{tag}"})["network"]
        vf_port = post("/ports", "port", {"network_id": net["id"],
                                          "binding:host_id": f"sriov-{tag}",
                                          "binding:vnic_type": "direct",
                                          "binding:profile": {"pci_slot": vf_slot(1)}})["port"]

        def policy_with(rule_type, body):
            pol = post("/qos/policies", "policy", {"name": f"sr-{tag}-{uuid.uuid4().hex[:4]}"}
                       )["policy"]
            post(f"/qos/policies/{pol['id']}/{rule_type}_rules", f"{rule_type}_rule", body)
            return pol

        ok = policy_with("bandwidth_limit", {"max_kbps": 10_000, "direction": "egress"})
        post(f"/qos/policies/{ok['id']}/minimum_bandwidth_rules", "minimum_bandwidth_rule",
             {"min_kbps": 1_000, "direction": "egress"})
        r = api.put(f"/ports/{vf_port['id']}", json={"port": {"qos_policy_id": ok["id"]}})
        assert r.status_code == 200, r.text
        for rule_type, body in (
                ("bandwidth_limit", {"max_kbps": 10_000, "direction": "ingress"}),
                ("bandwidth_limit", {"max_kbps": 10_000, "max_burst_kbps": 800,
                                     "direction": "egress"}),
                ("dscp_marking", {"dscp_mark": 26})):
            bad = policy_with(rule_type, body)
            r = api.put(f"/ports/{vf_port['id']}", json={"port": {"qos_policy_id": bad["id"]}})
            assert r.status_code == 409, (rule_type, body, r.text)
            assert "QosRuleNotSupported" in r.text or "not supported" in r.text.lower()
        # adding a refused rule to the policy the VF port already uses: 409 too
        r = api.post(f"/qos/policies/{ok['id']}/bandwidth_limit_rules",
                     json={"bandwidth_limit_rule": {"max_kbps": 5_000,
                                                    "direction": "ingress"}})
        assert r.status_code == 409, r.text
        detail = api.get("/qos/rule-types/bandwidth_limit").json()["rule_type"]
        drivers = {d["name"]: d for d in detail["drivers"]}
        if "sriovnicswitch" in drivers:   # shown when the server loads the SR-IOV backend
            params = {p["parameter_name"]: p for p in
                      drivers["sriovnicswitch"]["supported_parameters"]}
            assert params["direction"]["parameter_values"] == ["egress"]
            assert params["max_burst_kbps"]["parameter_values"] == {"start": 0, "end": 0}


def test_enforced_reads_the_vf_rates_back(sysfs):
    """CHECK: what the PF reports now, in the API's units; a rate changed by hand shows."""
    nl = FakeNetlink()
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=nl)
    p, = backend.locate([port(1, [bw(20_000), minimum(5_000)])])[0]
    backend.sync([p])
    got = backend.enforced([p])[p.port_id]
    assert got["egress"]["rate_kbps"] == 20_000 and got["min_egress_kbps"] == 5_000
    assert got["ingress"] is None
    nl.vfs[PF][1] = (0, 5)                    # max_tx_rate cleared by hand
    assert backend.enforced([p])[p.port_id]["egress"] is None


def test_owns_only_vf_vnic_types(sysfs):
    backend = SriovBackend(sysfs_root=str(sysfs), netlink=FakeNetlink())
    assert backend.owns(port(1)) and backend.owns(port(2, vnic="macvtap"))
    assert not backend.owns(port(3, vnic="normal"))
    info = backend.describe()
    assert info["backends"] == ["sriovnicswitch"] and info["configurations"] == {
        "device_kind": "vf"}
    assert info["support"]["vnic_types"] == ["direct", "macvtap"]
