"""Several "hosts" wired by the Linux-bridge L2 engine, for multi-host dataplane tests.

    fabric namespace:  bridge `under` (VXLAN underlay, 198.18.100.0/24)
                       bridge `phys`  (physnet1: the flat provider network's wire)
    host i namespace:  eth0 (198.18.100.i, into `under`), eth1 (no address, into `phys`),
                       one L2 engine process (`python -m netqos.agent.l2.linuxbridge`)
                       fed its desired state from a JSON file, and per VM a tap
    VM namespace:      eth0 (the VM's MAC and address) = the peer of its tap on the host

The desired state of each host is composed by netqos.l2compose, as the server will
compose it; `push()` writes every host's file and SIGHUPs its engine.
Pings use busybox (no ping binary on these machines). Only 198.18.0.0/15 is used, and every namespace name comes from unique_name().
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from netqos.l2compose import BoundPort, compose
from tests.harness.netns import Netns, run, unique_name
from tests.harness.util import tail, wait_for

UNDERLAY = "198.18.100.{}/24"
_RECEIVED = re.compile(r"(\d+) (?:packets )?received")
_TCP_ECHO = ("import socket\ns=socket.socket()\n"
             "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
             "s.bind(('0.0.0.0',5201)); s.listen(64)\nwhile True:\n c,_=s.accept()\n"
             " c.sendall(c.recv(100)[::-1]); c.close()")
_TCP_CLIENT = ("import socket,sys\ntry:\n s=socket.create_connection((sys.argv[1],5201),2)\n"
               " s.sendall(sys.argv[2].encode()); print(s.recv(100).decode())\n"
               "except OSError:\n pass")


@dataclass
class Network:
    network_id: str
    network_type: str
    segmentation_id: int | None = None
    physical_network: str | None = None
    mtu: int | None = None
    subnet_id: str | None = None             # when created through the API

    def wire(self) -> dict:
        return {"network_id": self.network_id, "network_type": self.network_type,
                "physical_network": self.physical_network,
                "segmentation_id": self.segmentation_id, "mtu": self.mtu}


@dataclass
class Vm:
    name: str
    host: "Host"
    network: Network
    ip: str                                  # with prefix length
    port_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    mac: str = ""
    admin_state_up: bool = True
    ns: Netns | None = None

    @property
    def tap(self) -> str:
        return "tap" + self.port_id[:11]

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]

    def boot(self, mtu: int) -> None:
        """The VM's namespace and its tap on the host (what Nova/libvirt would create)."""
        self.ns = Netns(unique_name("nqvm"))
        run("ip", "-n", self.host.ns.name, "link", "add", self.tap, "type", "veth",
            "peer", "name", "eth0", "netns", self.ns.name)
        self.ns.run("ip", "link", "set", "eth0", "address", self.mac, "mtu", str(mtu), "up")
        self.ns.run("ip", "addr", "add", self.ip, "dev", "eth0")

    def destroy(self) -> None:
        if self.ns is not None:
            self.ns.delete()      # the veth pair, tap included, goes with it
            self.ns = None
            self.host.unplug(self)


class Host:
    def __init__(self, index: int, fabric: Netns, workdir: Path):
        self.index = index
        self.name = f"host{index}"
        self.ns = Netns(unique_name("nqh"))
        self.local_ip = UNDERLAY.format(index).split("/")[0]
        self.desired_path = workdir / f"{self.name}.json"
        self.status_path = workdir / f"{self.name}.status.json"
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        for dev, bridge, addr in (("eth0", "under", UNDERLAY.format(index)),
                                  ("eth1", "phys", None)):
            peer = f"{'u' if dev == 'eth0' else 'p'}{index}"
            run("ip", "-n", fabric.name, "link", "add", peer, "type", "veth", "peer",
                "name", dev, "netns", self.ns.name)
            run("ip", "-n", fabric.name, "link", "set", peer, "master", bridge, "up")
            self.ns.run("ip", "link", "set", dev, "up")
            if addr:
                self.ns.run("ip", "addr", "add", addr, "dev", dev)

    def engine_argv(self) -> list[str]:
        return ["-m", "netqos.agent.l2.linuxbridge", "--physical-interface-mappings",
                "physnet1:eth1"]

    def plug(self, vm: "Vm") -> None:
        """What Nova/os-vif does beyond creating the tap (nothing for Linux bridges)."""

    def unplug(self, vm: "Vm") -> None:
        pass

    def prepare_guest(self, vm: "Vm") -> None:
        """What a guest needs for TCP/UDP through this host's tunnels (nothing here)."""

    def start(self, extra: tuple[str, ...] = ()) -> None:
        argv = [sys.executable, *self.engine_argv(),
                "--desired", str(self.desired_path), "--status", str(self.status_path),
                "--local-ip", self.local_ip, "--l2-population", "--resync-interval", "30",
                *extra]
        self.status_path.unlink(missing_ok=True)
        log = open(self.log_path, "a")
        self.proc = self.ns.popen(*argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_for(lambda: self.status() is not None, 15):
            raise RuntimeError(f"L2 engine of {self.name} wrote no status:\n"
                               f"{tail(self.log_path)}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        """Whatever the host runs besides its engine (nothing for Linux bridges)."""

    def hup(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGHUP)

    def status(self) -> dict | None:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None

    def ip(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "-n", self.ns.name, *argv, check=check)

    def bridge(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.ns.run("bridge", *argv, check=check)

    def links(self) -> dict[str, dict]:
        out = self.ip("-d", "-j", "link", "show").stdout
        return {d["ifname"]: d for d in json.loads(out or "[]")}

    def fdb(self, device: str) -> set[tuple[str, str]]:
        out = self.bridge("-j", "fdb", "show", "dev", device, check=False).stdout
        return {(e["mac"], e["dst"]) for e in json.loads(out or "[]") if e.get("dst")}


class L2Lab:
    """Hosts, networks and VMs; the desired state of each host composed from them."""

    def __init__(self, hosts: int = 3, kinds: Sequence[type[Host]] = ()):
        """`kinds`: the Host class of each host (default: all Linux-bridge hosts)."""
        self.workdir = Path(tempfile.mkdtemp(prefix="nq-l2-"))
        self.fabric = Netns(unique_name("nqfab"))
        for bridge in ("under", "phys"):
            self.fabric.run("ip", "link", "add", bridge, "type", "bridge")
            self.fabric.run("ip", "link", "set", bridge, "up")
        kinds = list(kinds) or [Host] * hosts
        self.hosts = [kind(i + 1, self.fabric, self.workdir) for i, kind in enumerate(kinds)]
        self.networks: list[Network] = []
        self.vms: list[Vm] = []
        self._macs = iter(range(1, 0xFFFF))

    def network(self, network_type: str, segmentation_id: int | None = None,
                physical_network: str | None = None) -> Network:
        mtu = {"vxlan": 1450, "gre": 1458}.get(network_type, 1500)   # as the server's
        net = Network(str(uuid.uuid4()), network_type, segmentation_id, physical_network, mtu)
        self.networks.append(net)
        return net

    def vm(self, name: str, host: Host, network: Network, ip: str) -> Vm:
        n = next(self._macs)
        vm = Vm(name, host, network, ip, mac=f"fa:16:3e:00:{n >> 8:02x}:{n & 0xFF:02x}")
        vm.boot(network.mtu or 1500)
        host.plug(vm)
        self.vms.append(vm)
        return vm

    # --- the server's part, simulated: what each host is told -------------------------
    def desired(self, host: Host) -> dict:
        ports = [BoundPort(vm.port_id, vm.mac, vm.network.network_id, vm.host.name,
                           vm.admin_state_up) for vm in self.vms]
        segments = {n.network_id: n.wire() for n in self.networks}
        return {"l2": compose(host.name, ports, segments,
                              {h.name: h.local_ip for h in self.hosts})}

    def push(self) -> None:
        for host in self.hosts:
            tmp = host.desired_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.desired(host)))
            os.replace(tmp, host.desired_path)
            host.hup()

    def start(self) -> None:
        self.push()
        for host in self.hosts:
            host.start()

    def port_status(self, vm: Vm) -> dict:
        return ((vm.host.status() or {}).get("ports") or {}).get(vm.port_id, {})

    # --- traffic ----------------------------------------------------------------------
    def ping(self, src: Vm, dst: Vm, count: int = 2) -> int:
        """Echo replies src got from dst's address."""
        res = src.ns.run("busybox", "ping", "-q", "-c", str(count), "-i", "0.2", "-W", "1",
                         dst.address, check=False, timeout=30)
        m = _RECEIVED.search(res.stdout)
        return int(m.group(1)) if m else 0

    def ping_through(self, src: Vm, dst: Vm, seconds: float, interval: float = 0.1):
        """Start a ping of `seconds` at `interval`; returns (process, packets sent)."""
        count = int(seconds / interval)
        proc = src.ns.popen("busybox", "ping", "-q", "-c", str(count), "-i", str(interval),
                            "-W", "1", dst.address, stdout=subprocess.PIPE, text=True)
        return proc, count

    @staticmethod
    def received(proc: subprocess.Popen) -> int:
        out, _ = proc.communicate(timeout=120)
        m = _RECEIVED.search(out)
        return int(m.group(1)) if m else 0

    def matrix(self, count: int = 2) -> dict[tuple[str, str], int]:
        """Replies for every ordered pair of VMs, pinged in parallel."""
        return self._pairs(lambda a, b: self.ping(a, b, count=count))

    def tcp_matrix(self) -> dict[tuple[str, str], int]:
        """1 where a TCP connection from a to b's port 5201 got its echo back, else 0."""
        with self._tcp_servers(self.vms):
            return self._pairs(self._tcp)

    def tcp_pair(self, src: Vm, dst: Vm) -> int:
        with self._tcp_servers([dst]):
            return self._tcp(src, dst)

    @contextmanager
    def _tcp_servers(self, vms: list[Vm]):
        servers = [vm.ns.popen("python3", "-c", _TCP_ECHO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for vm in vms]
        try:
            for vm in vms:
                if not wait_for(lambda: vm.ns.run("ss", "-ltnH", "sport = :5201").stdout,
                                10):
                    raise RuntimeError(f"TCP echo server of {vm.name} not listening")
            yield
        finally:
            for server in servers:
                server.kill()
                server.wait()

    @staticmethod
    def _tcp(src: Vm, dst: Vm) -> int:
        res = src.ns.run("python3", "-c", _TCP_CLIENT, dst.address, src.name, check=False,
                         timeout=30)
        return int(res.stdout.strip() == src.name[::-1])

    def _pairs(self, probe) -> dict[tuple[str, str], int]:
        pairs = [(a, b) for a in self.vms for b in self.vms if a is not b]
        with ThreadPoolExecutor(16) as pool:
            counts = list(pool.map(lambda p: probe(*p), pairs))
        return {(a.name, b.name): n for (a, b), n in zip(pairs, counts)}

    def move_and_back(self, vm: Vm, to: Vm, old: Vm, wired=lambda: True) -> None:
        """Bind `vm` to the network of `to`: it reaches `to` and no longer `old` (after
        `wired()` holds); then bind it back: it reaches `old` again."""
        home, vm.network = vm.network, to.network
        try:
            self.push()
            assert wait_for(wired, 5), "not rewired"
            assert wait_for(lambda: self.ping(vm, to, count=1) > 0, 5)
            assert self.ping(vm, old) == 0
        finally:
            vm.network = home
            self.push()
        assert wait_for(lambda: self.ping(vm, old, count=1) > 0, 5)

    def print_matrix(self, counts: dict) -> None:
        names = [vm.name for vm in self.vms]
        print("\nreplies (row pings column):")
        print("        " + " ".join(f"{n:>6}" for n in names))
        for a in names:
            print(f"{a:>7} " + " ".join(f"{'-' if a == b else counts[(a, b)]:>6}"
                                         for b in names))

    def split(self, counts: dict) -> tuple[dict, dict]:
        """(pairs within a network, pairs across networks) of a matrix."""
        vms = {vm.name: vm for vm in self.vms}
        same = {p: n for p, n in counts.items() if vms[p[0]].network is vms[p[1]].network}
        return same, {p: n for p, n in counts.items() if p not in same}

    def isolation(self, counts: dict) -> tuple[dict, dict]:
        """Split a matrix into (pairs within a network, pairs across networks), printed."""
        self.print_matrix(counts)
        same, cross = self.split(counts)
        print(f"same network: {sum(1 for n in same.values() if n)}/{len(same)} pairs "
              f"answered; across networks: {sum(cross.values())} replies in {len(cross)} "
              "pairs")
        return same, cross

    def close(self) -> None:
        for host in self.hosts:
            host.stop()
        for vm in self.vms:
            vm.destroy()
        for host in self.hosts:
            host.close()
            host.ns.delete()
        self.fabric.delete()
        for path in sorted(self.workdir.glob("*")):
            path.unlink(missing_ok=True)
        self.workdir.rmdir()


def agent_configurations(server_url: str, host: str) -> dict | None:
    """The `configurations` the agent of `host` reported in its heartbeat, or None."""
    agents = httpx.get(server_url + "/v2.0/agents").json()["agents"]
    return next((a["configurations"] for a in agents if a["host"] == host), None)
