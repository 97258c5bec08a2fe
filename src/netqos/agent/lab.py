"""Network-namespace labs for the dataplane tests, the benchmarks and the cluster harness.

A Lab is a "host" namespace plus "VM" namespaces, each VM wired to the host by a veth pair
whose host side is named like Neutron's tap (tap + port id[:11]); optionally through a Linux
bridge, optionally with an uplink veth to an "outside" namespace. Addresses come only from
198.18.0.0/15 and fd00:198:18::/48. Everything is named <prefix>… and torn down by close().
Also: iperf3 and a UDP round-trip probe between namespaces (no ping binary needed).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


def in_ns(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


@dataclass
class Vm:
    ns: str
    port_id: str
    device: str          # host side
    mac: str
    ip4: str
    ip6: str
    gw4: str             # the host's address the VM talks to
    gw6: str


class Namespaces:
    """What every lab shares: the namespaces it made (self.namespaces, TCP congestion
    control self.cc, both declared by the lab) and close(), which deletes them all —
    their veths go with them."""

    namespaces: list[str]
    cc: str

    def new_netns(self, name: str) -> str:
        sh("ip", "netns", "del", name, check=False)
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        for key, value in (("net.ipv4.tcp_congestion_control", self.cc),
                           ("net.ipv4.ip_forward", "1"),
                           ("net.ipv6.conf.all.forwarding", "1"),
                           ("net.ipv6.conf.default.accept_dad", "0")):
            sh(*in_ns(name, "sysctl", "-qw", f"{key}={value}"), check=False)
        return name

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Lab(Namespaces):
    prefix: str = field(default_factory=lambda: f"nq-{os.getpid()}-")
    cc: str = "cubic"                 # TCP congestion control in every namespace
    vms: list[Vm] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.host = self._netns("h")
        self.bridge: str | None = None

    def _netns(self, suffix: str) -> str:
        return self.new_netns(self.prefix + suffix)

    # ---- wiring ----
    def with_bridge(self) -> "Lab":
        """VMs added from now on hang off bridge `nqbr` (198.19.0.1/24) in the host."""
        self.bridge = "nqbr"
        sh("ip", "-n", self.host, "link", "add", self.bridge, "type", "bridge")
        self._addr(self.host, self.bridge, "198.19.0.1/24", "fd00:198:19::1/64")
        sh("ip", "-n", self.host, "link", "set", self.bridge, "up")
        return self

    def add_vm(self, port_id: str | None = None) -> Vm:
        i = len(self.vms) + 1
        port_id = port_id or f"{i:08x}-0000-4000-8000-{os.getpid():012x}"
        ns, dev, mac = self._netns(f"v{i}"), "tap" + port_id[:11], f"02:00:c6:12:00:{i:02x}"
        sh("ip", "-n", self.host, "link", "add", dev, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        if self.bridge:
            sh("ip", "-n", self.host, "link", "set", dev, "master", self.bridge)
            vm = Vm(ns, port_id, dev, mac, f"198.19.0.{i + 1}", f"fd00:198:19::{i + 1:x}",
                    "198.19.0.1", "fd00:198:19::1")
            plen4, plen6 = 24, 64
        else:
            vm = Vm(ns, port_id, dev, mac, f"198.18.{i}.2", f"fd00:198:18:{i:x}::2",
                    f"198.18.{i}.1", f"fd00:198:18:{i:x}::1")
            plen4, plen6 = 24, 64
            self._addr(self.host, dev, f"{vm.gw4}/24", f"{vm.gw6}/64")
        sh("ip", "-n", self.host, "link", "set", dev, "up")
        self._addr(ns, "eth0", f"{vm.ip4}/{plen4}", f"{vm.ip6}/{plen6}")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", vm.gw4)
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", vm.gw6)
        self.vms.append(vm)
        return vm

    def add_uplink(self) -> tuple[str, str, str]:
        """An uplink veth `nqup` enslaved to the bridge, its far end in namespace `out`.

        Returns (uplink device, outside namespace, an outside address on the VMs' subnet).
        """
        assert self.bridge, "the uplink hangs off the bridge"
        out = self._netns("out")
        sh("ip", "-n", self.host, "link", "add", "nqup", "type", "veth", "peer", "name",
           "eth0", "netns", out)
        sh("ip", "-n", self.host, "link", "set", "nqup", "master", self.bridge)
        sh("ip", "-n", self.host, "link", "set", "nqup", "up")
        self._addr(out, "eth0", "198.19.0.250/24", "fd00:198:19::fa/64")
        sh("ip", "-n", out, "link", "set", "eth0", "up")
        return "nqup", out, "198.19.0.250"

    def add_routed_uplink(self) -> tuple[str, str, str]:
        """An uplink veth `nqup` the host routes the VMs through (no bridge), its far end in
        namespace `out` (198.18.250.2), which routes the VMs' subnets back via the host.

        Returns (uplink device, outside namespace, the outside address).
        """
        out = self._netns("out")
        sh("ip", "-n", self.host, "link", "add", "nqup", "type", "veth", "peer", "name",
           "eth0", "netns", out)
        sh("ip", "-n", self.host, "link", "set", "nqup", "up")
        self._addr(self.host, "nqup", "198.18.250.1/24", "fd00:198:18:fa::1/64")
        self._addr(out, "eth0", "198.18.250.2/24", "fd00:198:18:fa::2/64")
        sh("ip", "-n", out, "link", "set", "eth0", "up")
        sh("ip", "-n", out, "route", "add", "198.18.0.0/16", "via", "198.18.250.1")
        return "nqup", out, "198.18.250.2"

    @staticmethod
    def _addr(ns: str, dev: str, a4: str, a6: str) -> None:
        sh("ip", "-n", ns, "addr", "add", a4, "dev", dev)
        sh("ip", "-n", ns, "-6", "addr", "add", a6, "dev", dev, "nodad")

    def many_taps(self, count: int, prefix: str = "") -> list[tuple[str, str, str]]:
        """`count` veth pairs inside the host namespace (both ends there), via one ip -batch.

        Returns (port id, tap name, mac) for each; for cost measurements, not traffic.
        """
        rows, lines = [], []
        for n in range(count):
            port = f"{n:08x}-{prefix or 'aaaa'}-4000-8000-{os.getpid():012x}"
            dev = "tap" + port[:11]
            mac = f"02:01:{len(prefix):02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
            lines += [f"link add {dev} type veth peer name p{port[:11]}",
                      f"link set {dev} up", f"link set p{port[:11]} up"]
            rows.append((port, dev, mac))
        sh("ip", "-n", self.host, "-batch", "-", input="\n".join(lines) + "\n")
        return rows


# ---- measurements ----

def iperf3(lab: Lab, vm: Vm, direction: str, seconds: int = 4, udp_kbps: int = 0,
           length: int = 0, server: tuple[str, str] | None = None, port: int = 5201,
           omit_first: bool = True) -> dict:
    """Run iperf3 between the host (or `server`=(ns, addr)) and a VM; the VM's view.

    direction `egress`: the VM sends; `ingress`: the VM receives (-R).
    Returns {"bps": receiver goodput over the run (after the first second if omit_first),
             "intervals": per-second receiver rates, "lost": UDP loss fraction}.
    """
    srv_ns, srv_addr = server or (lab.host, vm.gw4)
    srv = subprocess.Popen(in_ns(srv_ns, "iperf3", "-s", "-1", "-p", str(port)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(srv_ns, port)
        # iperf3 miscounts UDP loss when it omits an interval: never -O for UDP
        omit = omit_first and not udp_kbps
        argv = ["iperf3", "-c", srv_addr, "-p", str(port), "-t", str(seconds), "-J",
                *(("-O", "1") if omit else ())]
        if direction == "ingress":
            argv.append("-R")
        if udp_kbps:
            argv += ["-u", "-b", f"{udp_kbps}k", "-w", "4M"]
        else:   # the receiver's per-second view, not the sender's socket writes
            argv.append("--get-server-output")
        if length:
            argv += ["-l", str(length)]
        try:
            out = sh(*in_ns(vm.ns, *argv), check=False, timeout=seconds + 30)
        except subprocess.TimeoutExpired as exc:   # nothing got through (a 0-rate limiter)
            raise RuntimeError(f"iperf3 timed out after {exc.timeout} s") from exc
        data = json.loads(out.stdout or "{}")
        if "error" in data or "end" not in data:
            raise RuntimeError(f"iperf3 failed: {data.get('error', out.stderr)}")
        return _iperf_summary(data, bool(udp_kbps), direction == "ingress")
    finally:
        srv.kill()
        srv.wait()


def _iperf_summary(data: dict, udp: bool, client_receives: bool = True) -> dict:
    """Rates as the receiver saw them. A sender's intervals count what it wrote into its
    socket buffer (measured: 2x the limit in the first second at 1 Mbit/s), so TCP
    intervals come from the receiving side: the client with -R, else the server."""
    end = data["end"]
    if udp:
        s = end["sum"]
        return {"bps": s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100),
                "pps": (s["packets"] - s["lost_packets"]) / s["seconds"],
                "lost": s.get("lost_percent", 0) / 100,
                "intervals": [i["sum"]["bits_per_second"] for i in data["intervals"]]}
    receiver = data if client_receives else data.get("server_output_json", data)
    return {"bps": end["sum_received"]["bits_per_second"],
            "intervals": [i["sum"]["bits_per_second"] for i in receiver.get("intervals", [])
                          if not i["sum"].get("omitted")]}


def _wait_port(ns: str, port: int, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = sh(*in_ns(ns, "ss", "-ltnH", f"sport = :{port}"), check=False)
        if out.stdout.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"iperf3 server did not listen in {ns}")


_ECHO = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
         "s.bind(('0.0.0.0',int(sys.argv[1])))\nwhile True:\n d,a=s.recvfrom(64)\n s.sendto(d,a)")
_PROBE = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "s.settimeout(2)\nr=[]\nfor i in range(int(sys.argv[3])):\n t=time.perf_counter()\n"
          " s.sendto(b'x'*56,(sys.argv[1],int(sys.argv[2])))\n"
          " try:\n  s.recvfrom(64); r.append((time.perf_counter()-t)*1000)\n"
          " except OSError: r.append(2000.0)\n time.sleep(0.1)\nprint(' '.join(f'{x:.2f}' for x in r))")


def udp_rtts_ms(from_ns: str, to_ns: str, to_addr: str, count: int = 20,
                port: int = 7007) -> list[float]:
    """Round trips (ms) of small UDP datagrams, 10 per second, like `ping -i 0.1`."""
    echo = subprocess.Popen(in_ns(to_ns, sys.executable, "-c", _ECHO, str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        out = sh(*in_ns(from_ns, sys.executable, "-c", _PROBE, to_addr, str(port),
                        str(count)), timeout=count * 3 + 10)
        return [float(x) for x in out.stdout.split()]
    finally:
        echo.kill()
        echo.wait()


_SINK = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
         "s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,8<<20)\n"
         "s.bind(('0.0.0.0',int(sys.argv[1])))\nprint('ready',flush=True)\nn=0\nfirst=last=None\n"
         "s.settimeout(5)\nwhile True:\n try: s.recv(2048)\n except OSError: break\n"
         " last=time.perf_counter(); first=first or last; n+=1; s.settimeout(1)\n"
         "print(n, (last-first) if first else 0)")
_FLOOD = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "addr=(sys.argv[1],int(sys.argv[2])); pps=int(sys.argv[3]); secs=float(sys.argv[4])\n"
          "t0=time.perf_counter(); sent=0; d=b'x'*64\nwhile True:\n"
          " now=time.perf_counter()-t0\n if now>=secs: break\n"
          " due=int(now*pps)\n while sent<due:\n  sent+=1\n"
          "  try: s.sendto(d,addr)\n  except OSError: pass\n"   # a local drop says EPERM
          " time.sleep(0.0005)\nprint(sent)")


def udp_flood_pps(src_ns: str, dst_ns: str, dst_addr: str, pps: int, seconds: float = 3,
                  port: int = 7100) -> tuple[float, float]:
    """Send 64-byte datagrams at `pps` for `seconds`; (sent pps, delivered pps) as counted
    by the receiving socket. No control connection rides the limited path."""
    sink = subprocess.Popen(in_ns(dst_ns, sys.executable, "-c", _SINK, str(port)),
                            stdout=subprocess.PIPE, text=True)
    try:
        sink.stdout.readline()
        sent = int(sh(*in_ns(src_ns, sys.executable, "-c", _FLOOD, dst_addr, str(port),
                             str(pps), str(seconds))).stdout)
        got, span = sink.communicate(timeout=15)[0].split()
        return sent / seconds, int(got) / max(float(span), 1e-3)
    finally:
        if sink.poll() is None:
            sink.kill()
        sink.wait()
