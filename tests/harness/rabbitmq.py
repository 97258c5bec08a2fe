"""A private RabbitMQ broker for the tests.

It runs Debian's rabbitmq-server (the real scripts under /usr/lib/rabbitmq/bin,
not the /usr/sbin wrapper, which would switch to the rabbitmq user and lose our
environment) with everything private: node name, ports, data and log directories,
config file and HOME (where Erlang keeps the cookie that rabbitmqctl must share).

An outage is simulated with stop()/start() (the whole Erlang node goes away and
comes back on the same port with the same data) or stop_app()/start_app()
(the node stays, AMQP connections are dropped and refused).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from .util import free_port, stop_process, tail, wait_for

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")

# First bytes a client sends: "AMQP", 0, then protocol 0-9-1.
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def installed() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists() and shutil.which("erl") is not None


def amqp_handshake(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if an AMQP 0-9-1 broker answers on host:port with connection.start.

    The reply is a method frame: type 1, channel 0, a 4-byte size, then
    class 10 (connection) method 10 (start), and version 0.9.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(AMQP_HEADER)
            data = b""
            while len(data) < 13:
                chunk = s.recv(64)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    return data[0:3] == b"\x01\x00\x00" and data[7:11] == b"\x00\x0a\x00\x0a" and data[11:13] == b"\x00\x09"


class RabbitMQServer:
    """start()/stop() a private broker; .url is rabbit://user:pass@127.0.0.1:PORT/."""

    start_timeout = 90  # cold start is ~5 s, but CI machines are small and shared

    def __init__(self):
        if not installed():
            raise FileNotFoundError("rabbitmq-server not installed (apt-get install rabbitmq-server)")
        self.user = "netqos"
        self.password = secrets.token_hex(8)
        self.nodename = f"netqos-test-{os.getpid()}@localhost"
        self.port = free_port()
        # rabbitmqctl's own distribution ports are derived by adding offsets to
        # this one, so keep it low (and out of the kernel's ephemeral range).
        self.dist_port = free_port(20000, 30000)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="nq-rabbit-"))
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._write_config()
        atexit.register(self.destroy)

    # -- configuration ------------------------------------------------------

    def _write_config(self) -> None:
        home = self.tmpdir / "home"
        home.mkdir()
        # Write the cookie ourselves so the server and rabbitmqctl can never race
        # to create different ones.
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        (self.tmpdir / "rabbitmq.conf").write_text(
            # default_user only applies to a fresh node: it survives restarts in mnesia.
            f"default_user = {self.user}\n"
            f"default_pass = {self.password}\n"
            "loopback_users = none\n"
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            # Machines here sometimes have little disk: never block publishers for it.
            "disk_free_limit.absolute = 1MB\n"
            "log.file.level = warning\n"
            "log.console = false\n"
        )
        (self.tmpdir / "enabled_plugins").write_text("[].\n")
        (self.tmpdir / "rabbitmq-env.conf").write_text("# private, empty: ignore /etc/rabbitmq\n")

    @property
    def env(self) -> dict[str, str]:
        """Environment for rabbitmq-server and rabbitmqctl talking to this node."""
        t = self.tmpdir
        env = dict(os.environ)
        env.update(
            HOME=str(t / "home"),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(t / "mnesia"),
            RABBITMQ_LOG_BASE=str(t / "log"),
            RABBITMQ_CONFIG_FILE=str(t / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(t / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(t / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(t / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(t / "rabbitmq.pid"),
            # epmd (Erlang's name server) is shared by all nodes on the host:
            # keep it on loopback.
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    @property
    def url(self) -> str:
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    @property
    def amqp_url(self) -> str:
        """The same address with the amqp:// scheme (pika, aio-pika)."""
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "server.out"

    # -- lifecycle ------------------------------------------------------------

    def alive(self) -> bool:
        return amqp_handshake("127.0.0.1", self.port, timeout=1)

    def start(self) -> "RabbitMQServer":
        """Start the node (again, with the same data and port) and wait for AMQP."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self._log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to kill erl's children too
        )
        ok = wait_for(lambda: self.proc.poll() is not None or self.alive(), self.start_timeout, 0.25)
        if not ok or self.proc.poll() is not None:
            self._kill()
            raise RuntimeError(f"rabbitmq-server did not start:\n{self._logs()}")
        return self

    def stop(self) -> None:
        """Stop the node, keeping its data: an outage until start()."""
        if self.proc is None:
            return
        stop_process(self.proc, grace=30)   # RabbitMQ shuts down cleanly on SIGTERM
        self._kill()                         # and erl's children in its group go too

    def _kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run rabbitmqctl against this node; returns its output."""
        res = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env, cwd=self.tmpdir, capture_output=True, text=True, timeout=timeout,
        )
        if res.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed:\n{res.stdout}{res.stderr}")
        return res.stdout

    def stop_app(self) -> None:
        """Stop the RabbitMQ application but keep the Erlang node: AMQP goes down."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        if not wait_for(self.alive, self.start_timeout, 0.25):
            raise RuntimeError(f"rabbitmq did not come back after start_app:\n{self._logs()}")

    def destroy(self) -> None:
        """Stop and delete everything. Safe to call twice."""
        self.stop()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        _stop_idle_epmd()

    def _logs(self) -> str:
        out = tail(self.logfile)
        for f in sorted((self.tmpdir / "log").glob("*.log")) if (self.tmpdir / "log").exists() else []:
            out += f"\n--- {f.name} ---\n{tail(f)}"
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()


def _stop_idle_epmd() -> None:
    """Erlang starts epmd as a daemon that outlives the node. Stop it once no
    node is registered, so a test run leaves no process behind; leave it alone
    when other nodes still use it."""
    epmd = shutil.which("epmd")
    if not epmd:
        return
    try:
        names = subprocess.run([epmd, "-names"], capture_output=True, text=True, timeout=5)
        if names.returncode == 0 and "name " not in names.stdout:
            subprocess.run([epmd, "-kill"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
