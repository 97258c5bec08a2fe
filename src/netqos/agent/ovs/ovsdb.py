"""OVSDB through ovsdbapp: a snapshot of what netqos needs, one transaction per change set,
and row events that wake the agent.

The IDL keeps a replica of the tables below, fed by the server's monitor updates; reading
it costs no round trip. Writes go through one ovsdbapp transaction of `Ops`, which waits
for ovs-vswitchd to reconfigure (next_cfg), like ovs-vsctl does.
"""
from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl

from netqos import trust
from netqos.agent.ovs.state import (METER_KEY_PREFIX, PORT_KEY, UPLINK_KEY, Iface,
                                    OvsState, QosRow, QueueRow)

LOG = logging.getLogger(__name__)
# ovsdbapp ships no type information (no stubs, no py.typed): its IDL rows, tables,
# transactions and commands are Any to mypy; these names say which is meant.
Row = Any
Tables = Any        # the IDL's {table name: table with .rows}
Txn = Any
Command = Any       # an ovsdbapp command (command.BaseCommand)
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
    args: tuple[Any, ...]   # per kind, as listed above

    def __str__(self) -> str:
        return f"{self.kind} {self.args}"


def _int(value: Any) -> int | None:   # an OVSDB cell: None, "", a number's text
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


class _Idl(connection.OvsdbIdl):   # type: ignore[misc]  # ovsdbapp: no types
    def __init__(self, remote: str, helper: Any,
                 on_change: Callable[[str, Row, Row | None], None]):
        super().__init__(remote, helper)
        self.on_change = on_change

    def notify(self, event_name: str, row: Row, updates: Row | None = None) -> None:
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

    def _changed(self, event_name: str, row: Row, updates: Row | None = None) -> None:
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
                found = Iface(iface.name, pid, ofport, trust.mac_or_unknown(mac), port.name,
                              str(qos) if qos else None, iface.ingress_policing_rate,
                              iface.ingress_policing_burst)
                if pid:
                    state.ifaces[pid] = found
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
        """All `ops` in one transaction of ovsdbapp commands; raises if OVSDB refuses it
        (nothing applied)."""
        if not ops:
            return
        with self.conn.lock:     # the commands are chosen from a consistent replica
            commands = _Commands(self.api, self.idl.tables, self.bridge).of(ops)
        self.transactions += 1
        with self.api.transaction(check_error=True, log_errors=False) as txn:
            for cmd in commands:
                txn.add(cmd)

    def run(self, cmd: Command) -> None:
        """One command in one transaction; raises if OVSDB refuses it."""
        self.transactions += 1
        with self.api.transaction(check_error=True, log_errors=False) as txn:
            txn.add(cmd)


# queue number -> (max-rate, min-rate, burst, owner port), Op "qos"'s queues
Queues = dict[int, tuple[int, int | None, int | None, str | None]]


class _Commands:
    """Ops -> ovsdbapp commands of the Open_vSwitch schema (may_exist / if_exists where
    the op tolerates a row that is already there or already gone), read against the
    replica as it is now. Meter records of the whole change set go in one db_set and
    one db_remove of the bridge's external_ids: per record, ovsdbapp rewrites the
    whole map, which is quadratic on a thousand meters."""

    def __init__(self, api: Any, tables: Tables, bridge: str):
        self.api, self.tables, self.bridge = api, tables, bridge
        self._qos_ports: dict[uuid.UUID, list[uuid.UUID]] | None = None
        self._by_name: dict[str, Row] | None = None

    def of(self, ops: Sequence[Op]) -> list[Command]:
        # each takes its kind's Op.args
        by_kind: dict[str, Callable[..., list[Command]]] = {
            "bridge": self._bridge, "policing": self._policing, "qos": self._qos,
            "unqos": self._unqos}
        out: list[Command] = []
        records: dict[str, str] = {}
        gone: list[str] = []
        for op in ops:
            if op.kind == "register":
                meter_id, value = op.args
                key = f"{METER_KEY_PREFIX}{meter_id}"
                if value is None:
                    gone.append(key)
                    records.pop(key, None)
                else:
                    records[key] = value
            elif op.kind in by_kind:
                out += by_kind[op.kind](*op.args)
            else:
                raise ValueError(f"unknown OVSDB op {op.kind}")
        if gone:
            out.append(self.api.db_remove("Bridge", self.bridge, "external_ids", *gone,
                                          if_exists=True))
        if records:
            out.append(self.api.db_set("Bridge", self.bridge, ("external_ids", records)))
        return out

    def _bridge(self, name: str, datapath_type: str) -> list[Command]:
        return [self.api.add_br(name, may_exist=True, datapath_type=datapath_type),
                self.api.set_fail_mode(name, "standalone")]

    def _policing(self, iface: str, rate: int, burst: int) -> list[Command]:
        return [self.api.db_set("Interface", iface, ("ingress_policing_rate", rate),
                                ("ingress_policing_burst", burst), if_exists=True)]

    def _qos(self, port_name: str, port_id: str | None, max_rate: int, queues: Queues,
             uplink: bool, existing: str | None) -> list[Command]:
        api = self.api
        row = self.tables["QoS"].rows.get(_uuid(existing)) if existing else None
        out: list[Command] = []
        if row is None:
            created = {key: api.db_create("Queue", other_config=_queue_config(*q[:3]),
                                          external_ids={PORT_KEY: q[3]} if q[3] else {})
                       for key, q in queues.items()}
            qos = api.db_create("QoS", type="linux-htb",
                                external_ids={UPLINK_KEY: "1"} if uplink else
                                {PORT_KEY: port_id},
                                other_config={"max-rate": str(max_rate)}, queues=created)
            out += [*created.values(), qos]
        else:
            qos = row.uuid
            out += self._update_qos(row, max_rate, queues)
        port = self._ports().get(port_name)
        if port is not None and (not port.qos or port.qos[0].uuid != getattr(qos, "uuid",
                                                                             qos)):
            out.append(api.db_set("Port", port.uuid, ("qos", qos)))
        return out

    def _update_qos(self, row: Row, max_rate: int, queues: Queues) -> list[Command]:
        """An existing QoS row and its queues edited in place (their uuids stay)."""
        api, out = self.api, list[Command]()
        if row.other_config.get("max-rate") != str(max_rate):
            out.append(api.db_set("QoS", row.uuid, ("other_config",
                                                    {"max-rate": str(max_rate)})))
        old = dict(row.queues)
        stale = [key for key in old if key not in queues]
        if stale:
            out.append(api.db_remove("QoS", row.uuid, "queues", *stale))
            out += [api.db_destroy("Queue", old[key].uuid) for key in stale]
        for key, (max_q, min_q, burst, owner) in queues.items():
            config = _queue_config(max_q, min_q, burst)
            have = old.get(key)
            if have is None:
                new = api.db_create("Queue", other_config=config,
                                    external_ids={PORT_KEY: owner} if owner else {})
                out += [new, api.db_add("QoS", row.uuid, "queues", {key: new})]
                continue
            if dict(have.other_config) != config:
                dropped = set(have.other_config) - set(config)
                if dropped:
                    out.append(api.db_remove("Queue", have.uuid, "other_config", *dropped))
                out.append(api.db_set("Queue", have.uuid, ("other_config", config)))
            if owner and have.external_ids.get(PORT_KEY) != owner:
                out.append(api.db_set("Queue", have.uuid, ("external_ids",
                                                          {PORT_KEY: owner})))
        return out

    def _unqos(self, qos_uuid: str, port_name: str) -> list[Command]:
        """Detach the QoS row from every port that holds it, delete it with its queues
        (QoS and Queue are root tables: nothing collects them)."""
        row = self.tables["QoS"].rows.get(_uuid(qos_uuid))
        if row is None:
            return []
        api = self.api
        out = [api.db_clear("Port", port, "qos") for port in self._ports_of(row.uuid)]
        out += [api.db_destroy("Queue", queue.uuid) for queue in row.queues.values()]
        out.append(api.db_destroy("QoS", row.uuid))
        return out

    def _ports(self) -> dict[str, Row]:
        if self._by_name is None:      # once per change set, not once per port
            self._by_name = {p.name: p for p in self.tables["Port"].rows.values()}
        return self._by_name

    def _ports_of(self, qos_uuid: uuid.UUID) -> list[uuid.UUID]:
        if self._qos_ports is None:    # once per change set, not once per QoS row
            self._qos_ports = {}
            for port in self.tables["Port"].rows.values():
                if port.qos:
                    self._qos_ports.setdefault(port.qos[0].uuid, []).append(port.uuid)
        return self._qos_ports.get(qos_uuid, [])


def _queue_config(max_rate: int, min_rate: int | None, burst: int | None) -> dict[str, str]:
    config = {"max-rate": str(max_rate)}
    if min_rate:
        config["min-rate"] = str(min_rate)
    if burst:
        config["burst"] = str(burst)
    return config


def insert_bridge(txn: Txn, tables: Tables, name: str, datapath_type: str,
                  fail_mode: str | None) -> Row:
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


def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)
