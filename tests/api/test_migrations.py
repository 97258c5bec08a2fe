"""The Alembic migrations on SQLite and PostgreSQL: a database made by 0001, holding a
network, upgrades to the segments of 0002 (that network becomes `local`), and the result
matches the models exactly."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from netqos.db.engine import make_engine
from netqos.db.migrate import upgrade
from netqos.db.models import Base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_server").fresh_database(prefix="nq_migrate")
    return f"sqlite:///{tmp_path / 'netqos.sqlite'}"


def test_upgrade_from_0001_keeps_networks_and_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO networks (id, project_id, name, description, admin_state_up, "
                "router_external, mtu, revision_number, created_at, updated_at) VALUES "
                "('n1', 'p', 'old', '', true, false, 1500, 1, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"))
            # A subnet cascades from its network: a migration that rebuilt the networks
            # table on SQLite would take it along.
            conn.execute(text(
                "INSERT INTO subnets (id, project_id, network_id, name, description, "
                "ip_version, cidr, allocation_pools, enable_dhcp, revision_number, created_at, "
                "updated_at) VALUES ('s1', 'p', 'n1', '', '', 4, '198.18.0.0/24', '[]', true, "
                "1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT network_type, physical_network, segmentation_id "
                                    "FROM networks WHERE id = 'n1'")).one()
            assert tuple(row) == ("local", None, None)
            assert conn.execute(text("SELECT count(*) FROM segment_allocations")).scalar() == 0
            assert conn.execute(text("SELECT network_id FROM subnets")).scalar() == "n1"
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
    finally:
        engine.dispose()


def test_0003_keys_agent_rows_by_backend_and_keeps_old_ones(database_url):
    """An agent row of 0002 (unique per host and type) takes its first backend as its key
    column; afterwards a host may hold a row per backend, but not two of one backend."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002_segments")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO agents (id, host, agent_type, backends, capabilities, uplinks, "
                "configurations, started_at, heartbeat_at) VALUES ('a1', 'h1', 'netqos', "
                "'[\"linuxtc\"]', '{}', '{}', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade(engine)
        insert = ("INSERT INTO agents (id, host, agent_type, backend, backends, capabilities, "
                  "uplinks, configurations, started_at, heartbeat_at) VALUES (:id, 'h1', "
                  "'netqos', :backend, '[]', '{}', '{}', '{}', CURRENT_TIMESTAMP, "
                  "CURRENT_TIMESTAMP)")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT backend, support FROM agents")).one() == (
                "linuxtc", None)
            conn.execute(text(insert), {"id": "a2", "backend": "sriovnicswitch"})
        with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
            conn.execute(text(insert), {"id": "a3", "backend": "linuxtc"})
    finally:
        engine.dispose()


def test_0004_widens_segment_ids_to_32_bit_gre_keys_keeping_rows(database_url):
    """A VXLAN network of 0003 keeps its segment; afterwards a GRE key of 2**32-1 fits
    (beyond PostgreSQL's INTEGER) in the network and its allocation row."""
    engine = make_engine(database_url)
    insert_net = ("INSERT INTO networks (id, project_id, name, description, admin_state_up, "
                  "router_external, mtu, revision_number, created_at, updated_at, "
                  "network_type, segmentation_id) VALUES (:id, 'p', '', '', true, false, "
                  "1450, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :kind, :seg)")
    insert_alloc = ("INSERT INTO segment_allocations (network_type, physical_network, "
                    "segmentation_id, network_id) VALUES (:kind, '', :seg, :id)")
    try:
        upgrade(engine, "0003_agent_backends")
        with engine.begin() as conn:
            row = {"id": "n1", "kind": "vxlan", "seg": 1001}
            conn.execute(text(insert_net), row)
            conn.execute(text(insert_alloc), row)
        upgrade(engine)
        with engine.begin() as conn:
            row = {"id": "n2", "kind": "gre", "seg": 2**32 - 1}
            conn.execute(text(insert_net), row)
            conn.execute(text(insert_alloc), row)
        with engine.connect() as conn:
            assert sorted(conn.execute(text(
                "SELECT network_id, network_type, segmentation_id FROM segment_allocations"))
                .all()) == [("n1", "vxlan", 1001), ("n2", "gre", 2**32 - 1)]
            assert conn.execute(text("SELECT segmentation_id FROM networks WHERE id = 'n2'")
                                ).scalar() == 2**32 - 1
    finally:
        engine.dispose()
