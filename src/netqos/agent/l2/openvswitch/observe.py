"""Read the L2 state: bridges and ports from the OVSDB replica (no round trip), then the
cookies of the flows on each of our bridges over one OpenFlow connection per bridge.

On br-int only the L2 cookie's flows are read (the QoS pipeline's are its own); br-tun and
the physical bridges are the engine's alone, so every flow's cookie is read there and a
flow that is not ours is deleted."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from netqos.agent.l2.openvswitch.state import OWN_KEYS, BridgeRow, OvsL2State, PortRow
from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import OpenFlowError, Switch
from netqos.agent.ovs.ovsdb import Ovsdb

LOG = logging.getLogger(__name__)
L2_COOKIE, TAG_MASK = fl.L2_TAG << 48, 0xFFFF << 48


def snapshot(db: Ovsdb) -> OvsL2State:
    with db.conn.lock:
        tables = db.idl.tables
        state = OvsL2State()
        ovs = next(iter(tables["Open_vSwitch"].rows.values()), None)
        state.userspace_tso = ovs is not None and \
            ovs.other_config.get("userspace-tso-enable") == "true"
        if ovs is not None and ovs.ovs_version:
            state.ovs_version = ovs.ovs_version[0]
        for bridge in tables["Bridge"].rows.values():
            row = BridgeRow(bridge.name, bridge.datapath_type or "system",
                            bridge.fail_mode[0] if bridge.fail_mode else None)
            for port in bridge.ports:
                row.ports[port.name] = _port(port)
            state.bridges[bridge.name] = row
        return state


def _port(port: Any) -> PortRow:   # an ovsdbapp Port row (ovsdbapp ships no types)
    iface = port.interfaces[0] if port.interfaces else None
    config = tuple(sorted((k, v) for k, v in port.other_config.items() if k in OWN_KEYS))
    if iface is None:
        return PortRow(port.name, tag=port.tag[0] if port.tag else None, other_config=config)
    return PortRow(port.name, iface.type or "", iface.ofport[0] if iface.ofport else -1,
                   tuple(sorted(iface.options.items())),
                   iface.external_ids.get("iface-id"),
                   port.tag[0] if port.tag else None, config)


def read_cookies(switch: Callable[[str], Switch], bridges: Iterable[str],
                 own_everything: Iterable[str]) -> dict[str, set[int]]:
    """bridge -> the cookies of our flows on it; a bridge whose switch does not answer
    (ovs-vswitchd restarting) reads as holding no flows, so the plan reinstalls them."""
    whole, cookies = set(own_everything), {}
    for name in bridges:
        try:
            cookies[name] = switch(name).flow_cookies(
                *((0, 0) if name in whole else (L2_COOKIE, TAG_MASK)))
        except (OpenFlowError, OSError) as exc:
            LOG.info("flows of %s unreadable (%s): taken as none", name, exc)
            cookies[name] = set()
    return cookies
