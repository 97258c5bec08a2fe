"""Traffic between lab namespaces: iperf3 goodput, UDP round trips (no ping binary
needed) and a UDP packet-rate flood, each measured at the receiver; the machine-wide
traffic lock, and a tcpdump that shows the TOS byte of real packets (how DSCP is checked on
the wire)."""
from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

from tests.harness.lab import Lab, Vm
from tests.harness.netns import in_ns, sh
from tests.harness.util import wait_for


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
    def listening() -> bool:
        return bool(sh(*in_ns(ns, "ss", "-ltnH", f"sport = :{port}"), check=False).stdout.strip())
    if not wait_for(listening, timeout, interval=0.05):
        raise RuntimeError(f"iperf3 server did not listen in {ns}")


def iperf3_between(client_ns: str, server_ns: str, address: str, port: int, seconds: int = 4,
           reverse: bool = False) -> float:
    """TCP goodput (bit/s) at the receiver, after the first second, from a client in
    `client_ns` to a server in `server_ns` reached at `address` (-R: the server sends)."""
    srv = subprocess.Popen(in_ns(server_ns, "iperf3", "-s", "-1", "-p", str(port)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(server_ns, port)
        argv = ["iperf3", "-c", address, "-p", str(port), "-t", str(seconds), "-O", "1", "-J",
                *(("-R",) if reverse else ())]
        out = sh(*in_ns(client_ns, *argv), check=False, timeout=seconds + 30)
        data = json.loads(out.stdout or "{}")
        if "error" in data or "end" not in data:
            raise RuntimeError(f"iperf3 {client_ns} -> {address}: "
                               f"{data.get('error', out.stderr)}")
        return _iperf_summary(data, False)["bps"]
    finally:
        srv.kill()
        srv.wait()


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


TRAFFIC_LOCK = "/tmp/netqos-traffic.lock"
LOW = 0.90                     # goodput/limit below this is measured once more


@contextmanager
def traffic_lock():
    """Measurements of engineers sharing the machine must not overlap."""
    with open(TRAFFIC_LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def limit_ratio(a, b, direction: str, limit_kbps: int) -> float:
    """Goodput of VM a's `direction` (egress: a sends) with VM b, over `limit_kbps`: TCP
    for 4 s under the traffic lock, measured once more if low (other work on a 2-core
    machine only slows a flow down, it never speeds it past a limiter). Printed."""
    def once() -> float:
        with traffic_lock():
            got = iperf3(None, SimpleNamespace(ns=a.ns.name), direction, seconds=4,
                         server=(b.ns.name, b.address))
        return got["bps"] / (limit_kbps * 1000)
    ratio = once()
    if ratio < LOW:
        print(f"\n{direction}: {ratio:.3f} of the limit, measured once more")
        ratio = max(ratio, once())
    print(f"\n{direction} of {a.name} ({a.host.name}) with {b.name} ({b.host.name}): "
          f"{ratio * limit_kbps / 1000:.1f} Mbit/s goodput, {ratio:.3f} of the limit")
    return ratio


def capture(ns: str, dev: str, bpf: str, count: int = 3) -> subprocess.Popen:
    """tcpdump -v of the first `count` packets matching `bpf` (it prints each IP header's
    tos); read the result with `tos_of`."""
    return subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-l", "-n", "-v", "-c",
                             str(count), "-i", dev, bpf], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def output(cap: subprocess.Popen, timeout: float = 5) -> str:
    """What `cap` printed, once it stopped or `timeout` passed."""
    try:
        out, _ = cap.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        cap.kill()
        out, _ = cap.communicate()
    return out


def tos_of(cap: subprocess.Popen, timeout: float = 5) -> list[str]:
    """The TOS bytes ("0x68") of what `cap` saw."""
    return re.findall(r"tos (0x[0-9a-f]+)", output(cap, timeout))


# BPF: VXLAN packets whose inner frame is IPv4 ICMP (UDP header 8 + VXLAN 8 + Ethernet 14
# bytes: the inner ethertype at udp[28], the inner IP protocol at udp[30 + 9]).
VXLAN_ICMP_BPF = "udp port 4789 and udp[28:2] = 0x0800 and udp[39] = 1"
# tcpdump -v of a VXLAN packet: the outer IP header, the UDP/VXLAN line, the inner one.
_VXLAN_ICMP = re.compile(r"\(tos (0x[0-9a-f]+),[^\n]*proto UDP[^\n]*\n[^\n]*VXLAN[^\n]*\n"
                         r"[^\n]*\(tos (0x[0-9a-f]+),[^\n]*proto ICMP")


def vxlan_icmp_tos(cap: subprocess.Popen, timeout: float = 5) -> list[tuple[str, str]]:
    """(outer TOS, inner TOS) of each VXLAN packet carrying ICMP that `cap` saw (capture
    with VXLAN_ICMP_BPF: ARP and IPv6 neighbour discovery carry no DSCP to copy)."""
    return _VXLAN_ICMP.findall(output(cap, timeout))
