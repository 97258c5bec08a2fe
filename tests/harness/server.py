"""The real netqos API server in a subprocess, for tests that speak HTTP to it.

    srv = ServerProcess("sqlite:////tmp/x/netqos.sqlite").start()
    httpx.get(srv.url + "/v2.0/qos/policies")
    srv.restart()    # same port, same database
    srv.stop()
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from .util import free_port, tail

START_TIMEOUT = 20.0


def netqos_command() -> Path:
    """The `netqos` console script of the venv running the tests."""
    return Path(sys.executable).parent / "netqos"


class ServerProcess:
    def __init__(self, database_url: str, auth: str = "noauth", extra_args=(), env=None,
                 log_dir: str | Path | None = None):
        self.database_url = database_url
        self.auth = auth
        self.extra_args = tuple(extra_args)
        self.env = env
        self.port = free_port()  # kept across restart(), so clients' URLs stay valid
        self.proc: subprocess.Popen | None = None
        # Give a log_dir that something cleans (pytest's tmp_path_factory keeps
        # the last three runs); without one the log stays in /tmp for debugging.
        fd, name = tempfile.mkstemp(prefix="nq-server-", suffix=".log", dir=log_dir)
        os.close(fd)
        self.logfile = Path(name)
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [str(netqos_command()), "server", "--bind", f"127.0.0.1:{self.port}",
                "--database", self.database_url, "--auth", self.auth, *self.extra_args]

    def start(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        env = dict(os.environ)
        env.update(self.env or {})
        env.setdefault("PYTHONUNBUFFERED", "1")  # so the log is complete when we show it
        with open(self.logfile, "ab") as log:
            log.write(f"\n--- start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"netqos server exited with {code} while starting:\n{self.log_tail()}")
            try:
                httpx.get(self.url + "/", timeout=1)
                return self  # any HTTP answer means it is serving; tests judge the status
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"netqos server did not answer GET / within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> "ServerProcess":
        self.stop()
        return self.start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.logfile, lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def sqlite_server_of_its_own(tmp_path_factory, name: str, env: dict[str, str]):
    """A module's own server on a fresh SQLite file, with `env` (NETQOS_* settings the
    session's server does not have): yields it started, stops it after."""
    log_dir = tmp_path_factory.mktemp(name)
    server = ServerProcess(f"sqlite:///{log_dir}/netqos.sqlite", log_dir=log_dir, env=env)
    server.start()
    yield server
    server.stop()


def token_server(directory: str | Path, tokens: dict, extra_args=()) -> ServerProcess:
    """`netqos server --auth tokens` on a fresh SQLite file in `directory`; `tokens` maps
    each token to its identity ({project_id, user_id, roles} or {roles: [agent], host})."""
    directory = Path(directory)
    token_file = directory / "tokens.yaml"
    token_file.write_text(yaml.safe_dump({"tokens": tokens}))
    token_file.chmod(0o600)
    return ServerProcess(f"sqlite:///{directory / 'netqos.sqlite'}", auth="tokens",
                         extra_args=["--token-file", str(token_file), *extra_args],
                         log_dir=directory)
