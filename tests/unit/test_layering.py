"""The layers of DESIGN.md, checked on every import statement under src/ (the `ast` module,
so imports inside functions count too):

- qos/ (the domain) imports no HTTP, SQL or kernel code and no other netqos layer;
- wire.py (what crosses server -> agent) and trust.py (its checks) import only the domain;
- api/ reaches the database only through service/ (known exceptions listed, with why);
- service/ and bus/ import nothing of the agent;
- nothing under src/ imports from tests/.

Each rule is also tried on a made-up module, so a rule that can never fail is caught.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "netqos"

HTTP = ("fastapi", "starlette", "httpx", "uvicorn")
SQL = ("sqlalchemy", "alembic", "psycopg")
KERNEL = ("pyroute2", "subprocess", "ovsdbapp", "libvirt", "netqos.agent", "netqos.db",
          "netqos.api", "netqos.service", "netqos.bus", "netqos.cli")
NEUTRAL = ("netqos.qos", "netqos.trust", "netqos.wire")

# api/ modules that still open the database themselves: the engine and the write
# transaction (api/app.py builds the engine, api/deps.py runs each request's transaction).
# Both files are being edited on other branches this session; moving that plumbing into
# service/ is issue 13's item 8, left for after those merges.
API_DB_EXCEPTIONS = {("api/app.py", "netqos.db.engine"), ("api/deps.py", "netqos.db.engine")}


def imports(tree: ast.AST) -> list[str]:
    """Every module an import statement names (`from a import b`: a.b, which is under a)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(rel: str, names: list[str]) -> list[str]:
    """What module `rel` (a path under src/netqos) may not import, among `names`."""
    out = []
    for name in names:
        if under(name, ("tests",)):
            out.append(f"{rel} imports {name}: src/ never imports tests/")
        if rel.startswith("qos/") and under(name, HTTP + SQL + KERNEL):
            out.append(f"{rel} imports {name}: qos/ knows no HTTP, SQL or kernel")
        if rel in ("wire.py", "trust.py") and under(name, ("netqos",)) \
                and not under(name, NEUTRAL):
            out.append(f"{rel} imports {name}: the wire types import only the domain")
        if rel.startswith("api/") and under(name, ("netqos.db",)) \
                and not any(rel == f and under(name, (m,)) for f, m in API_DB_EXCEPTIONS):
            out.append(f"{rel} imports {name}: api/ reaches the database through service/")
        if rel.startswith(("service/", "bus/")) and under(name, ("netqos.agent",)):
            out.append(f"{rel} imports {name}: the server side imports nothing of the agent")
    return out


def test_src_keeps_its_layers():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("db/migrations/"):
            continue
        found += violations(rel, imports(ast.parse(path.read_text(), str(path))))
    assert found == []


@pytest.mark.parametrize("rel, source", [
    ("qos/x.py", "import httpx"),
    ("qos/x.py", "from fastapi import Request"),
    ("qos/x.py", "def f():\n    from sqlalchemy import select"),
    ("qos/x.py", "import alembic"),
    ("qos/x.py", "from pyroute2 import IPRoute"),
    ("qos/x.py", "import subprocess"),
    ("qos/x.py", "from ovsdbapp.backend import ovs_idl"),
    ("qos/x.py", "from netqos.agent import discover"),
    ("qos/x.py", "from netqos.db.models import Port"),
    ("qos/x.py", "from netqos import service"),
    ("wire.py", "from netqos.agent import loop"),
    ("api/x.py", "from netqos.db.models import Port"),
    ("api/x.py", "from netqos import db"),
    ("service/x.py", "from netqos.agent.model import PortQos"),
    ("bus/x.py", "from netqos.service.txn import Txn\nfrom netqos.agent import trust"),
    ("cli/x.py", "from tests.harness import netns"),
])
def test_each_rule_can_fail(rel, source):
    assert violations(rel, imports(ast.parse(source)))


@pytest.mark.parametrize("rel, source", [
    ("qos/x.py", "from netqos.qos.rules import RULE_TYPES\nimport re"),
    ("wire.py", "from netqos import trust"),
    ("api/app.py", "from netqos.db.engine import make_engine"),
    ("api/x.py", "from netqos.service import stats"),
    ("service/x.py", "from netqos.wire import PortQos"),
])
def test_what_the_layers_allow(rel, source):
    assert violations(rel, imports(ast.parse(source))) == []
