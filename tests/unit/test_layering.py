"""The layers of DESIGN.md, checked on every import statement under src/ (the `ast` module,
so imports inside functions count too):

- qos/ (the domain) imports no HTTP, SQL or kernel code and no other netqos layer;
- wire.py (what crosses server -> agent) and trust.py (its checks) import only the domain;
- api/ reaches the database only through service/ (no netqos.db, no SQLAlchemy);
- service/ and bus/ import nothing of the agent;
- nothing under src/ imports from tests/ (the test labs live in tests/harness);
- a module imports another package's private (`_name`) names never: what two packages
  share is public;
- service/ modules import each other without a cycle.

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
        if rel.startswith("api/") and under(name, ("netqos.db",) + SQL):
            out.append(f"{rel} imports {name}: api/ reaches the database through service/")
        if rel.startswith(("service/", "bus/")) and under(name, ("netqos.agent",)):
            out.append(f"{rel} imports {name}: the server side imports nothing of the agent")
        if rel.startswith("bus/") and under(name, ("netqos.service", "netqos.db")):
            out.append(f"{rel} imports {name}: the bus carries events, it runs no service")
        if _private_elsewhere(rel, name):
            out.append(f"{rel} imports {name}: another package's private name")
    return out


def _private_elsewhere(rel: str, name: str) -> bool:
    """`name` (module.attribute) is a private attribute of a module outside rel's package."""
    module, _, attr = name.rpartition(".")
    if not attr.startswith("_") or attr.startswith("__") or not module.startswith("netqos."):
        return False
    package = "netqos." + rel.rpartition("/")[0].replace("/", ".")
    return module.rpartition(".")[0] != package.rstrip(".")


def service_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles among service/ modules (graph: module -> the modules it imports)."""
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return cycles


def service_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Which service/ module imports which (sources: module name -> its text). Only
    module-level imports count: one inside a function is how a cycle is broken."""
    graph = {}
    for module, text in sources.items():
        tree = ast.parse(text)
        found = set()
        for node in tree.body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = imports(node)
            found |= {n for n in names if n in sources} | \
                     {n.rpartition(".")[0] for n in names if n.rpartition(".")[0] in sources}
        graph[module] = found - {module}
    return graph


def test_src_keeps_its_layers():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("db/migrations/"):
            continue
        found += violations(rel, imports(ast.parse(path.read_text(), str(path))))
    assert found == []


def test_service_has_no_import_cycle():
    sources = {f"netqos.service.{p.stem}": p.read_text()
               for p in (SRC / "service").glob("*.py") if p.stem != "__init__"}
    assert service_cycles(service_graph(sources)) == []


def test_a_service_cycle_is_found():
    graph = service_graph({"netqos.service.a": "from netqos.service import b",
                           "netqos.service.b": "import netqos.service.a",
                           "netqos.service.c": "def f():\n    from netqos.service import a"})
    assert service_cycles(graph) == [["netqos.service.a", "netqos.service.b",
                                      "netqos.service.a"]]


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
    ("api/app.py", "from netqos.db.engine import make_engine"),
    ("api/deps.py", "from sqlalchemy.exc import DBAPIError"),
    ("service/x.py", "from netqos.agent.model import PortQos"),
    ("bus/x.py", "from netqos.service.txn import Txn\nfrom netqos.agent import trust"),
    ("cli/x.py", "from tests.harness import netns"),
    ("agent/x.py", "from tests.harness.lab import Lab"),
    ("bus/x.py", "from netqos.service.txn import Txn"),
    ("agent/l3/u32.py", "from netqos.agent.tc.u32 import _FH"),
])
def test_each_rule_can_fail(rel, source):
    assert violations(rel, imports(ast.parse(source)))


@pytest.mark.parametrize("rel, source", [
    ("qos/x.py", "from netqos.qos.rules import RULE_TYPES\nimport re"),
    ("wire.py", "from netqos import trust"),
    ("api/app.py", "from netqos.service.database import Database"),
    ("api/x.py", "from netqos.service import stats"),
    ("service/x.py", "from netqos.wire import PortQos"),
    ("bus/live.py", "from netqos.bus.rabbit import _connection"),
    ("agent/l3/u32.py", "from netqos.agent.tc.u32 import FH_RE"),
])
def test_what_the_layers_allow(rel, source):
    assert violations(rel, imports(ast.parse(source))) == []
