"""Engines and sessions for SQLite (embedded) and PostgreSQL (cluster)."""
from __future__ import annotations

import threading
from contextlib import nullcontext
from weakref import WeakKeyDictionary

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pool_pre_ping: its SELECT 1 before every checkout was a round trip per request.
    # A connection that the server dropped (a PostgreSQL restart) fails its first
    # statement instead; SQLAlchemy then invalidates the pool, and api/deps.py's transact
    # runs the transaction again on a fresh connection.
    return create_engine(url, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run while one writer commits; foreign keys cascade rule deletes;
    # synchronous=NORMAL under WAL still survives a process crash without losing commits.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    # Let us issue BEGIN ourselves (below): pysqlite's implicit BEGIN is DEFERRED, and a
    # deferred reader that later writes fails at once with "database is locked" when
    # another writer committed in between, whatever the busy timeout.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn) -> None:
    # Writers take the write lock up front and queue on busy_timeout instead of failing.
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Execution option a session sets (see begin_write) before a transaction that writes.
WRITE_OPTION = "netqos_write"


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer (BEGIN IMMEDIATE on SQLite)."""
    session.connection(execution_options={WRITE_OPTION: True})


_WRITER_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def writer_lock(engine: Engine):
    """What a writing transaction holds from BEGIN to COMMIT.

    SQLite admits one writer at a time, and a writer that finds the database locked waits
    in SQLite's busy handler, which sleeps in growing steps (up to 100 ms): with a few
    concurrent writers, p99 latency jumps to hundreds of milliseconds while the database
    sits idle. The threads of one server process queue on a lock instead and start the
    moment the previous writer commits. (Other processes on the same file still meet the
    busy handler.) PostgreSQL runs writers concurrently: no lock.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITER_LOCKS.get(engine)
    if lock is None:
        lock = _WRITER_LOCKS.setdefault(engine, threading.Lock())
    return lock


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
