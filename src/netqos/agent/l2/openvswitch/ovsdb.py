"""The OVSDB side of the OVS L2 engine: the connection (netqos.agent.ovs.ovsdb's, woken by
the L2 columns too) and the edits of one change set, applied in one transaction.

Edits (the `edit` of a plan Op):
    ("bridge", name, datapath_type, fail_mode)    create a bridge with its internal port
    ("fail_mode", bridge, mode)
    ("add_port", bridge, name, type, options)     a port with one interface
    ("iface", name, type, options)               retype / re-option an interface in place
    ("del_port", bridge, name)
    ("port", name, tag, other_config)            a VM port's tag and our other_config keys
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ovsdbapp.backend.ovs_idl import command

from netqos.agent.l2.openvswitch.state import OWN_KEYS
from netqos.agent.ovs.ovsdb import Ovsdb, insert_bridge

RELEVANT = {"Interface": {"name", "ofport", "external_ids", "type", "options"},
            "Port": {"name", "tag", "other_config", "interfaces"},
            "Bridge": {"name", "ports", "fail_mode"}}


# (verb, *args): the args' types depend on the verb (see above); their values go into
# ovsdbapp's untyped rows.
OvsdbEdit = tuple[Any, ...]


class L2Ovsdb(Ovsdb):
    relevant = RELEVANT

    def edit(self, edits: Sequence[OvsdbEdit]) -> None:
        """All edits in one transaction; raises if OVSDB refuses it (nothing applied)."""
        if edits:
            self.run(_Edit(self.api, list(edits)))


# ovsdbapp ships no type information: BaseCommand, the API and the transaction are Any.
class _Edit(command.BaseCommand):   # type: ignore[misc]
    def __init__(self, api: Any, edits: list[OvsdbEdit]):
        super().__init__(api)
        self.edits = edits

    def run_idl(self, txn: Any) -> None:
        tables = self.api.idl.tables
        bridges = {b.name: b for b in tables["Bridge"].rows.values()}
        ports = {p.name: p for p in tables["Port"].rows.values()}
        ifaces = {i.name: i for i in tables["Interface"].rows.values()}
        for verb, *args in self.edits:
            if verb == "bridge":
                name, datapath_type, fail_mode = args
                bridges[name] = insert_bridge(txn, tables, name, datapath_type, fail_mode)
            elif verb == "fail_mode":
                bridges[args[0]].fail_mode = args[1]
            elif verb == "add_port":
                bridge, name, kind, options = args
                iface = txn.insert(tables["Interface"])
                iface.name, iface.type, iface.options = name, kind, options
                port = txn.insert(tables["Port"])
                port.name, port.interfaces = name, [iface]
                bridges[bridge].addvalue("ports", port)
                ports[name], ifaces[name] = port, iface
            elif verb == "iface":
                name, kind, options = args
                ifaces[name].type, ifaces[name].options = kind, options
            elif verb == "del_port":
                bridge, name = args
                port = ports.pop(name)
                bridges[bridge].delvalue("ports", port)
                for iface in port.interfaces:
                    iface.delete()
                port.delete()
            elif verb == "port":
                name, tag, config = args
                port = ports[name]
                port.tag = tag
                for key in OWN_KEYS:
                    if key in config:
                        port.setkey("other_config", key, config[key])
                    elif key in port.other_config:
                        port.delkey("other_config", key)
            else:
                raise ValueError(f"unknown OVSDB edit {verb}")
