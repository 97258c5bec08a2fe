"""Helpers for the CLI tests: run the real `netqos` console script against a live server.

    res = nq("policy", "create", name, "-f", "json")
    assert res.returncode == 0, res.stderr
    policy = res.json()
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

NETQOS = Path(sys.executable).parent / "netqos"


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.argv = proc.args

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return (f"<netqos {' '.join(map(str, self.argv[1:]))} -> {self.returncode}\n"
                f"stdout: {self.stdout}\nstderr: {self.stderr}>")


def clean_env(url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "NETQOS_"))}
    if url:
        env["NETQOS_URL"] = url
    return env


def run_netqos(*args, url: str | None = None, env: dict | None = None,
               timeout: float = 60) -> Result:
    full_env = clean_env(url)
    full_env.update(env or {})
    proc = subprocess.run([str(NETQOS), *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    return Result(proc)


@pytest.fixture
def nq(sqlite_server, tmp_path):
    """netqos against the session's SQLite server; HOME is a temp dir (no user config)."""
    def run(*args, env=None, timeout=60):
        return run_netqos(*args, url=sqlite_server.url,
                          env={"HOME": str(tmp_path), **(env or {})}, timeout=timeout)
    return run


@pytest.fixture
def http(sqlite_server):
    with httpx.Client(base_url=sqlite_server.url, timeout=10) as client:
        yield client


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(res: Result) -> Result:
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr, res
    return res


def scrape(url: str) -> dict[str, float]:
    """{'name{labels}': value} of a Prometheus text page."""
    out = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric(samples: dict, name: str, **labels) -> float | None:
    for key, value in samples.items():
        m = re.fullmatch(r"([^{]+)(?:\{(.*)\})?", key)
        if m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return value
    return None
