"""OVSDB through ovsdbapp: a snapshot of what netqos needs, one transaction per change set,
and row events that wake the agent.

The IDL keeps a replica of the tables below, fed by the server's monitor updates; reading
it costs no round trip. Writes go through one ovsdbapp transaction of `Ops`, which waits
for ovs-vswitchd to reconfigure (next_cfg), like ovs-vsctl does.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ovsdbapp.backend.ovs_idl import command, connection, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl

from netqos import trust
from netqos.agent.ovs.state import (METER_KEY_PREFIX, PORT_KEY, UPLINK_KEY, Iface,
                                    OvsState, QosRow, QueueRow)

LOG = logging.getLogger(__name__)
TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface", "QoS", "Queue")


def default_db() -> str:
    return f"unix:{os.environ.get('OVS_RUNDIR', '/var/run/openvswitch')}/db.sock"


@dataclass(frozen=True)
class Op:
    """One OVSDB edit. kinds and their arguments:
    qos       port (Port name), port_id, max_rate_bps, queues {key: (max, min, burst, owner)},
              uplink: bool — create or update the port's QoS row and its queues in place
    unqos     qos uuid, port (Port name or "") — detach it and delete it with its queues
    policing  port (Interface name), rate kbps, burst kbit
    register  meter id, value "<port id>/<kind>" (None: remove the record)
    bridge    name, datapath_type — create the bridge
    """
    kind: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.kind} {self.args}"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Tables whose changes wake the agent, and the columns that matter (empty: all of them).
RELEVANT = {"Interface": {"name", "ofport", "external_ids", "ingress_policing_rate",
                         "ingress_policing_burst"},
            "Port": {"name", "qos", "interfaces"},
            "Bridge": {"ports", "external_ids", "datapath_type"},
            "QoS": set(), "Queue": set()}


class _Idl(connection.OvsdbIdl):
    def __init__(self, remote, helper, on_change: Callable[..., None]):
        super().__init__(remote, helper)
        self.on_change = on_change

    def notify(self, event_name, row, updates=None):
        try:
            self.on_change(event_name, row, updates)
        except Exception:  # a watcher must never break the IDL's thread
            LOG.exception("OVSDB change callback failed")


class Ovsdb:
    """One OVSDB connection: read the replica, write transactions, watch changes."""

    relevant = RELEVANT     # what wakes the watchers (the L2 engine widens it)

    def __init__(self, remote: str | None = None, bridge: str = "br-int", timeout: float = 30):
        remote = remote or default_db()
        self.remote = remote
        self.bridge = bridge
        self._watchers: list[Callable[[], None]] = []
        helper = idlutils.get_schema_helper(remote, "Open_vSwitch")
        for table in TABLES:
            helper.register_table(table)
        self.idl = _Idl(remote, helper, self._changed)
        self.conn = connection.Connection(self.idl, timeout=timeout)
        # ovsdbapp keeps one connection per API class: a class of our own per instance, so
        # several switches (tests) or a restarted backend (same process) never share one.
        api_cls = type("NetqosOvsdb", (impl_idl.OvsdbIdl,), {"_ovsdb_connection": None})
        self.api = api_cls(self.conn)
        self.transactions = 0

    def close(self) -> None:
        self.conn.stop(timeout=5)

    # ---- change notifications ----
    def watch(self, callback: Callable[[], None]) -> None:
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        if callback in self._watchers:
            self._watchers.remove(callback)

    def _changed(self, event_name: str, row, updates=None) -> None:
        """Wake the watchers on what can change a plan, not on statistics: ovs-vswitchd
        rewrites every Interface's statistics every few seconds."""
        columns = self.relevant.get(row._table.name)
        if columns is None:
            return
        if event_name == "update" and columns and updates is not None:
            changed = set(getattr(updates, "_data", {}) or ())
            if changed and not changed & columns:
                return
        for callback in list(self._watchers):
            callback()

    # ---- reads ----
    def snapshot(self) -> OvsState:
        with self.conn.lock:
            return self._snapshot()

    def _snapshot(self) -> OvsState:
        state = OvsState()
        tables = self.idl.tables
        ovs = next(iter(tables["Open_vSwitch"].rows.values()), None)
        state.userspace_tso = ovs is not None and \
            ovs.other_config.get("userspace-tso-enable") == "true"
        bridge = next((b for b in tables["Bridge"].rows.values() if b.name == self.bridge),
                      None)
        if bridge is None:
            return state
        state.bridge_exists = True
        state.datapath_type = bridge.datapath_type or "system"
        for key, value in bridge.external_ids.items():
            if key.startswith(METER_KEY_PREFIX) and "/" in value:
                meter = _int(key[len(METER_KEY_PREFIX):])
                if meter:
                    port_id, kind = value.rsplit("/", 1)
                    state.registry[meter] = (port_id, kind)
        attached: dict[str, list[str]] = {}
        for port in bridge.ports:
            state.port_names.add(port.name)
            qos = port.qos[0].uuid if port.qos else None
            if qos:
                attached.setdefault(str(qos), []).append(port.name)
            for iface in port.interfaces:
                pid = iface.external_ids.get("iface-id")
                ofport = iface.ofport[0] if iface.ofport else -1
                mac = iface.external_ids.get("attached-mac") or \
                    (iface.mac_in_use[0] if iface.mac_in_use else "")
                row = Iface(iface.name, pid, ofport, trust.mac_or_unknown(mac), port.name,
                            str(qos) if qos else None, iface.ingress_policing_rate,
                            iface.ingress_policing_burst)
                if pid:
                    state.ifaces[pid] = row
        for qos in tables["QoS"].rows.values():
            owner, uplink = qos.external_ids.get(PORT_KEY), UPLINK_KEY in qos.external_ids
            if not owner and not uplink:
                continue
            row = QosRow(str(qos.uuid), qos.type, owner, uplink,
                         _int(qos.other_config.get("max-rate")),
                         attached=attached.get(str(qos.uuid), []))
            for key, queue in qos.queues.items():
                row.queues[int(key)] = QueueRow(
                    str(queue.uuid), _int(queue.other_config.get("max-rate")),
                    _int(queue.other_config.get("min-rate")),
                    _int(queue.other_config.get("burst")), queue.external_ids.get(PORT_KEY))
            state.qos[row.uuid] = row
        return state

    # ---- writes ----
    def transact(self, ops: Sequence[Op]) -> None:
        """All `ops` in one transaction; raises if OVSDB refuses it (nothing applied)."""
        if not ops:
            return
        self.run(_Apply(self.api, self.bridge, list(ops)))

    def run(self, cmd: command.BaseCommand) -> None:
        """One command in one transaction; raises if OVSDB refuses it."""
        self.transactions += 1
        with self.api.transaction(check_error=True, log_errors=False) as txn:
            txn.add(cmd)


class _Apply(command.BaseCommand):
    """Ops on the IDL's rows inside one transaction."""

    def __init__(self, api, bridge: str, ops: list[Op]):
        super().__init__(api)
        self.bridge_name = bridge
        self.ops = ops

    def run_idl(self, txn):
        tables = self.api.idl.tables
        bridge = next((b for b in tables["Bridge"].rows.values()
                       if b.name == self.bridge_name), None)
        ports = {p.name: p for p in tables["Port"].rows.values()}
        ifaces = {i.name: i for i in tables["Interface"].rows.values()}
        for op in self.ops:
            if op.kind == "bridge":
                bridge = self._bridge(txn, *op.args)
            elif op.kind == "register":
                meter_id, value = op.args
                key = f"{METER_KEY_PREFIX}{meter_id}"
                if value is None:
                    bridge.delkey("external_ids", key)
                else:
                    bridge.setkey("external_ids", key, value)
            elif op.kind == "policing":
                name, rate, burst = op.args
                if name in ifaces:
                    ifaces[name].ingress_policing_rate = rate
                    ifaces[name].ingress_policing_burst = burst
            elif op.kind == "qos":
                self._qos(txn, ports, *op.args)
            elif op.kind == "unqos":
                uuid, port_name = op.args
                self._unqos(tables, ports.get(port_name), uuid)
            else:
                raise ValueError(f"unknown OVSDB op {op.kind}")

    def _bridge(self, txn, name: str, datapath_type: str):
        return insert_bridge(txn, self.api.idl.tables, name, datapath_type, "standalone")

    def _qos(self, txn, ports, port_name: str, port_id: str | None, max_rate: int,
             queues: dict, uplink: bool, existing: str | None) -> None:
        tables = self.api.idl.tables
        qos = tables["QoS"].rows.get(_uuid(existing)) if existing else None
        fresh = qos is None
        if fresh:
            qos = txn.insert(tables["QoS"])
            qos.type = "linux-htb"
            qos.external_ids = {UPLINK_KEY: "1"} if uplink else {PORT_KEY: port_id}
            qos.other_config = {"max-rate": str(max_rate)}
        elif qos.other_config.get("max-rate") != str(max_rate):
            qos.setkey("other_config", "max-rate", str(max_rate))
        old = {} if fresh else dict(qos.queues)
        current = dict(old)
        new = {}
        for key, (max_rate_q, min_rate, burst, owner) in queues.items():
            queue = old.pop(key, None)
            if queue is None:
                queue = txn.insert(tables["Queue"])
                queue.other_config, queue.external_ids = {}, {}
            config = {"max-rate": str(max_rate_q)}
            if min_rate:
                config["min-rate"] = str(min_rate)
            if burst:
                config["burst"] = str(burst)
            if dict(queue.other_config) != config:
                queue.other_config = config
            if owner and queue.external_ids.get(PORT_KEY) != owner:
                queue.external_ids = {PORT_KEY: owner}
            new[key] = queue
        if fresh or set(new) != set(current) or any(current[k].uuid != v.uuid
                                                    for k, v in new.items() if k in current):
            qos.queues = new
        for queue in old.values():
            queue.delete()
        port = ports.get(port_name)
        if port is not None and (not port.qos or port.qos[0].uuid != qos.uuid):
            port.qos = [qos]

    def _unqos(self, tables, port, uuid: str) -> None:
        qos = tables["QoS"].rows.get(_uuid(uuid))
        if qos is None:
            return
        for p in tables["Port"].rows.values():
            if p.qos and p.qos[0].uuid == qos.uuid:
                p.qos = []
        for queue in qos.queues.values():
            queue.delete()
        qos.delete()


def insert_bridge(txn, tables, name: str, datapath_type: str, fail_mode: str):
    """A new bridge with its internal port, as `ovs-vsctl add-br` makes it."""
    iface = txn.insert(tables["Interface"])
    iface.name, iface.type = name, "internal"
    port = txn.insert(tables["Port"])
    port.name, port.interfaces = name, [iface]
    bridge = txn.insert(tables["Bridge"])
    bridge.name, bridge.datapath_type, bridge.ports = name, datapath_type, [port]
    bridge.fail_mode = fail_mode
    next(iter(tables["Open_vSwitch"].rows.values())).addvalue("bridges", bridge)
    return bridge


def _uuid(text: str):
    import uuid
    return uuid.UUID(text)
