"""A private Open vSwitch (ovsdb-server + ovs-vswitchd) for dataplane tests (root).

The distro service is never started; this one keeps its database, sockets and
logs in a temporary directory. `env` (OVS_RUNDIR and friends) makes ovs-vsctl,
ovs-ofctl and ovs-appctl, and an agent started with it, talk to this instance.

Without the openvswitch kernel module (common in containers) bridges must use
the userspace datapath: `datapath_type` says which one works here.

    with OvsServer() as ovs:
        ovs.vsctl("add-br", "br-nq", "--", "set", "bridge", "br-nq",
                  f"datapath_type={ovs.datapath_type}")

A simulated host runs its own pair inside its namespace (`OvsServer(netns=NAME)`): the
userspace datapath opens that namespace's devices and makes its internal ports there, and
its native tunnels route with that namespace's addresses. `restart_vswitchd()` kills and
restarts ovs-vswitchd on the same database (flows are lost, OVSDB stays).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .util import stop_process, tail, wait_for

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


def installed() -> bool:
    return all(shutil.which(c) for c in ("ovsdb-server", "ovs-vswitchd", "ovs-vsctl")) and SCHEMA.exists()


def require_ovs() -> None:
    """Fail (in CI) or skip (elsewhere) a test that needs Open vSwitch installed."""
    from tests.conftest import unavailable

    if not installed():
        unavailable("OVS L2 tests need Open vSwitch (openvswitch-switch)")


def kernel_datapath() -> bool:
    """True if the openvswitch kernel module is (or can be) loaded."""
    if Path("/sys/module/openvswitch").exists():
        return True
    return subprocess.run(["modprobe", "-q", "openvswitch"], capture_output=True).returncode == 0


class OvsServer:
    def __init__(self, netns: str | None = None, tso: bool = False):
        if not installed():
            raise FileNotFoundError("Open vSwitch not installed (apt-get install openvswitch-switch)")
        self.tmpdir = Path(tempfile.mkdtemp(prefix="nq-ovs-"))
        self.datapath_type = "system" if kernel_datapath() else "netdev"
        self.procs: list[subprocess.Popen] = []
        self.netns = netns
        self.tso = tso          # userspace TSO on before ovs-vswitchd opens any port
        atexit.register(self.stop)

    @property
    def db_sock(self) -> Path:
        return self.tmpdir / "db.sock"

    @property
    def db(self) -> str:
        """OVSDB address for --db= options and agent configuration."""
        return f"unix:{self.db_sock}"

    @property
    def env(self) -> dict[str, str]:
        t = str(self.tmpdir)
        env = dict(os.environ)
        env.update(OVS_RUNDIR=t, OVS_LOGDIR=t, OVS_DBDIR=t, OVS_SYSCONFDIR=t)
        return env

    @property
    def rundir(self) -> str:
        return str(self.tmpdir)

    def _daemon(self, name: str, *args: str) -> subprocess.Popen:
        # Foreground children (no --detach): we reap them, nothing outlives the tests.
        log = open(self.tmpdir / f"{name}.out", "ab")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.procs.append(subprocess.Popen(
            [*prefix, name, *args, f"--pidfile={self.tmpdir / name}.pid",
             f"--unixctl={self.tmpdir / name}.ctl", f"--log-file={self.tmpdir / name}.log"],
            env=self.env, cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        ))
        log.close()
        return self.procs[-1]

    def start(self) -> "OvsServer":
        dbfile = self.tmpdir / "conf.db"
        subprocess.run(["ovsdb-tool", "create", str(dbfile), str(SCHEMA)], check=True, env=self.env)
        self._daemon("ovsdb-server", str(dbfile), f"--remote=punix:{self.db_sock}")
        if not wait_for(self.db_sock.exists, 10):
            raise RuntimeError(f"ovsdb-server did not start:\n{self.logs()}")
        self.vsctl("--no-wait", "init")
        if self.tso:
            self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                       "other_config:userspace-tso-enable=true")
        self._daemon("ovs-vswitchd", self.db)
        # `ovs-vsctl` (with wait) returns once ovs-vswitchd has caught up.
        self.vsctl("set", "Open_vSwitch", ".", "external_ids:netqos-test=1", timeout=20)
        return self

    def restart_vswitchd(self, kill: bool = True) -> None:
        """ovs-vswitchd dies (SIGKILL: a crash) and starts again on the same database."""
        proc = next(p for p in self.procs if "ovs-vswitchd" in p.args)
        proc.kill() if kill else proc.terminate()
        proc.wait(10)
        self.procs.remove(proc)
        self._daemon("ovs-vswitchd", self.db)
        self.vsctl("set", "Open_vSwitch", ".", "external_ids:netqos-test=2", timeout=20)

    def appctl(self, *args: str) -> str:
        res = subprocess.run(["ovs-appctl", "-t", str(self.tmpdir / "ovs-vswitchd.ctl"), *args],
                             env=self.env, capture_output=True, text=True, timeout=15)
        if res.returncode != 0:
            raise RuntimeError(f"ovs-appctl {' '.join(args)} failed: {res.stderr}")
        return res.stdout

    def ofctl(self, *args: str) -> str:
        res = subprocess.run(["ovs-ofctl", "-O", "OpenFlow14", *args], env=self.env,
                             capture_output=True, text=True, timeout=15)
        if res.returncode != 0:
            raise RuntimeError(f"ovs-ofctl {' '.join(args)} failed: {res.stderr}")
        return res.stdout

    def vsctl(self, *args: str, timeout: float = 10) -> str:
        res = subprocess.run(["ovs-vsctl", f"--db={self.db}", f"--timeout={int(timeout)}", *args],
                             env=self.env, capture_output=True, text=True, timeout=timeout + 5)
        if res.returncode != 0:
            raise RuntimeError(f"ovs-vsctl {' '.join(args)} failed: {res.stderr}\n{self.logs()}")
        return res.stdout

    def stop(self) -> None:
        """Stop both daemons (bridges go with ovs-vswitchd) and delete the directory."""
        if self.procs:
            try:
                # Delete bridges first so no ovs-netdev / bridge devices stay in the kernel.
                for br in self.vsctl("list-br").split():
                    self.vsctl("del-br", br)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs = []
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n{tail(f, 15)}" for f in sorted(self.tmpdir.glob("*.log")))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
