"""A host pull with its "l2" block takes the same number of SQL statements whatever the
number of the host's ports, networks and peers (service/hosts.py desired, service/l2.py),
counted on a real SQLite database."""
from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.orm import Session

from netqos.db.engine import make_engine
from netqos.db.models import Agent, Base, Network, Port
from netqos.service import hosts
from netqos.service.context import Context
from netqos.service.txn import Txn


def fill(session: Session, networks: int, peers: int) -> None:
    """`networks` VXLAN networks, each with a port on "h0" and on `peers` other hosts."""
    for n in range(networks):
        net = Network(id=str(uuid.uuid4()), project_id="p", network_type="vxlan",
                      segmentation_id=1000 + n, mtu=1450)
        session.add(net)
        for h in range(peers + 1):
            session.add(Port(id=str(uuid.uuid4()), project_id="p", network_id=net.id,
                             mac_address=f"fa:16:3e:00:{n:02x}:{h:02x}", host=f"h{h}"))
    for h in range(peers + 1):
        session.add(Agent(id=str(uuid.uuid4()), host=f"h{h}", agent_type="netqos",
                          configurations={"local_ip": f"198.18.0.{h + 1}"}))
    session.commit()


def statements(tmp_path, networks: int, peers: int) -> tuple[int, dict]:
    engine = make_engine(f"sqlite:///{tmp_path / f'{networks}-{peers}.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        fill(session, networks, peers)
        seen = []
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        doc = hosts.desired(Txn(session, Context("admin", roles=frozenset({"admin"}))), "h0")
    engine.dispose()
    return len(seen), doc["l2"]


def test_pull_statements_do_not_grow_with_the_host(tmp_path):
    small, small_l2 = statements(tmp_path, networks=1, peers=1)
    large, large_l2 = statements(tmp_path, networks=12, peers=6)
    assert len(small_l2["remote"]) == 1 and len(large_l2["remote"]) == 12 * 6
    assert len(large_l2["ports"]) == 12 and len(large_l2["networks"]) == 12
    assert small == large
