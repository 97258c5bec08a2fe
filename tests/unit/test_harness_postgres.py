"""The PostgreSQL harness starts a real server that SQLAlchemy and psycopg can use."""

import psycopg
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def test_select_one(postgres_server):
    with psycopg.connect(postgres_server.conninfo()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_url_works_with_sqlalchemy(postgres_url):
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select current_database()")).scalar() == "netqos"
    engine.dispose()


def test_fresh_database_is_new_and_empty(postgres_server, fresh_postgres_url):
    assert fresh_postgres_url != postgres_server.url
    engine = sa.create_engine(fresh_postgres_url)
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        )).scalar()
    engine.dispose()
    assert tables == 0
