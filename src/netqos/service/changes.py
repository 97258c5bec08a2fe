"""Ordered change numbers for agents, and the events that announce them.

A change to some ports' effective QoS takes the next number of one counter row (under its
row lock, so numbers commit in order), stamps the ports with it, raises their hosts'
revisions to it, and emits one event naming those hosts and ports.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from netqos.db.models import HostRevision, Port, RevisionCounter
from netqos.service.txn import Txn
from netqos.wire import Event

COUNTER = "qos"


def next_number(txn: Txn) -> int:
    session = txn.session
    result = session.execute(update(RevisionCounter).where(RevisionCounter.name == COUNTER)
                             .values(value=RevisionCounter.value + 1))
    if result.rowcount == 0:
        session.add(RevisionCounter(name=COUNTER, value=1))
        session.flush()
    return session.scalar(select(RevisionCounter.value).where(RevisionCounter.name == COUNTER))


def touch(txn: Txn, resource: str, obj_id: str, ports: Iterable[Port],
          hosts: Iterable[str] = ()) -> int:
    """Announce that `ports` (and whatever else lives on `hosts`) changed; returns the
    change number, or 0 when nothing anywhere is affected."""
    ports = list(ports)
    all_hosts = sorted({p.host for p in ports if p.host} | {h for h in hosts if h})
    if not ports and not all_hosts:
        # Nothing enforces it anywhere (a policy bound to nothing yet): no agent needs to
        # hear, and skipping the counter spares such writes its row lock.
        return 0
    number = next_number(txn)
    if ports:
        txn.session.execute(update(Port).where(Port.id.in_([p.id for p in ports]))
                            .values(qos_revision=number)
                            .execution_options(synchronize_session=False))
    for host in all_hosts:
        _raise_host(txn, host, number)
    txn.emit(Event(resource, obj_id, number, hosts=tuple(all_hosts),
                   ports=tuple(p.id for p in ports)))
    return number


def _raise_host(txn: Txn, host: str, number: int) -> None:
    row = txn.session.get(HostRevision, host)
    if row is None:
        txn.session.add(HostRevision(host=host, revision=number))
    else:
        row.revision = number


def host_revision(txn: Txn, host: str) -> int:
    return txn.session.scalar(select(HostRevision.revision).where(HostRevision.host == host)) or 0
