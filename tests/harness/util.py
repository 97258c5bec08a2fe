"""Small helpers shared by the harness modules."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path


def in_ci() -> bool:
    """True when running under CI (CI=true), where skips of real-server tests are failures."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


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


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Poll predicate() until it is true or timeout seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# Lines a test wants shown in pytest's final summary (counts of a property test, ...);
# tests/conftest.py's pytest_terminal_summary prints them.
SUMMARY_LINES: list[str] = []
