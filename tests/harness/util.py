"""Small helpers shared by the harness modules."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def in_ci() -> bool:
    """True when running under CI (CI=true), where skips of real-server tests are failures."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_root(what: str, *tools: str) -> None:
    """Skip (a failure in CI, by the suite's policy) unless root with `tools` on PATH."""
    if os.geteuid() != 0:
        pytest.skip(f"{what} need root (network namespaces, tc, nft)")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"{what} need {', '.join(missing)}")


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now.

    Without a range the kernel picks one. A range is for daemons that derive
    other ports from this one (RabbitMQ adds offsets), so it must stay low.
    """
    if low is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(200):
        port = random.randint(low, high or low + 1000)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}..{high}")


def tail(path: Path | str, lines: int = 40) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(text.splitlines()[-lines:])


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll predicate() until it is true or timeout seconds passed: its last value (true,
    or false when the time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """wait_for in a test: predicate()'s true value, or an AssertionError that says what
    did not happen in time."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return value


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, and SIGKILL if it is still there after `grace` seconds (its whole process
    group when it leads one, so tc/nft children go too)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        kill_process(proc)


def kill_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait()


# Lines a test wants shown in pytest's final summary (counts of a property test, ...);
# tests/conftest.py's pytest_terminal_summary prints them.
SUMMARY_LINES: list[str] = []
