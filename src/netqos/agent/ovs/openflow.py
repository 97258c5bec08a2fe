"""OpenFlow 1.3 to one bridge: meters and flow cookies over its management socket, flow
changes through `ovs-ofctl --bundle add-flows`.

`ovs-ofctl` has no batch form for meters (add-meter / mod-meter take one meter per
process, about 5 ms each here), so meters travel over the bridge's management socket
(<rundir>/<bridge>.mgmt) instead: every METER_MOD of a change set, then one BARRIER, on one
connection; an OFPT_ERROR names the failing message by xid, so a failure is pinned on its
port. Observe reads meters, meter features and our flows' cookies the same way. Flow mods
are many kinds of match and action, which ovs-ofctl already parses: one process per change
set, `--bundle` so the change set lands atomically (OpenFlow 1.4 bundles).
"""
from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
from dataclasses import dataclass

from netqos import trust
from netqos.agent.ovs.state import Meter

OFP_VERSION = 0x04
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 18, 19
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPT_METER_MOD = 29
OFPMP_FLOW, OFPMP_METER_CONFIG, OFPMP_METER_FEATURES = 1, 10, 11
OFPMC_ADD, OFPMC_MODIFY, OFPMC_DELETE = 0, 1, 2
OFPMF_KBPS, OFPMF_PKTPS, OFPMF_BURST, OFPMF_STATS = 1, 2, 4, 8
OFPMBT_DROP = 1
OFPM_ALL = 0xFFFFFFFF
COMMANDS = {"add": OFPMC_ADD, "mod": OFPMC_MODIFY, "del": OFPMC_DELETE}
_HDR = struct.Struct("!BBHI")


def default_rundir() -> str:
    return os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")


@dataclass(frozen=True)
class MeterOp:
    command: str          # "add" | "mod" | "del"
    meter_id: int
    unit: str = "kbps"    # "kbps" | "pktps"
    rate: int = 0
    burst: int = 0

    def __str__(self) -> str:
        if self.command == "del":
            return f"del-meter {self.meter_id}"
        return (f"{self.command}-meter meter={self.meter_id},{self.unit},burst,stats,"
                f"bands=type=drop,rate={self.rate},burst_size={self.burst}")

    def encode(self, xid: int) -> bytes:
        flags = OFPMF_BURST | OFPMF_STATS | (OFPMF_KBPS if self.unit == "kbps" else OFPMF_PKTPS)
        bands = b"" if self.command == "del" else struct.pack(
            "!HHII4x", OFPMBT_DROP, 16, self.rate, self.burst)
        body = struct.pack("!HHI", COMMANDS[self.command], flags, self.meter_id) + bands
        return _HDR.pack(OFP_VERSION, OFPT_METER_MOD, 8 + len(body), xid) + body


@dataclass
class MeterFeatures:
    max_meter: int = 0
    kbps: bool = False
    pktps: bool = False
    burst: bool = False


class OpenFlowError(RuntimeError):
    pass


class Channel:
    """One OpenFlow 1.3 connection to a bridge's management socket."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise OpenFlowError(f"cannot connect to {path}: {exc}") from exc
        self._xid = 0
        self._buf = b""
        self.send(OFPT_HELLO, b"")
        kind, _, _ = self.recv()
        if kind != OFPT_HELLO:
            raise OpenFlowError(f"expected HELLO, got message type {kind}")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_xid(self) -> int:
        self._xid += 1
        return self._xid

    def send(self, kind: int, body: bytes, xid: int | None = None) -> int:
        xid = self.next_xid() if xid is None else xid
        self.sock.sendall(_HDR.pack(OFP_VERSION, kind, 8 + len(body), xid) + body)
        return xid

    def recv(self) -> tuple[int, int, bytes]:
        """(type, xid, body) of the next message; echo requests are answered on the way."""
        while True:
            while len(self._buf) < 8 or len(self._buf) < _HDR.unpack_from(self._buf)[2]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OpenFlowError("connection closed by the switch")
                self._buf += chunk
            _, kind, length, xid = _HDR.unpack_from(self._buf)
            body, self._buf = self._buf[8:length], self._buf[length:]
            if kind == OFPT_ECHO_REQUEST:
                self.send(OFPT_ECHO_REPLY, body, xid)
                continue
            return kind, xid, body

    def multipart(self, mp_type: int, body: bytes) -> bytes:
        """All parts of one multipart reply, concatenated."""
        xid = self.send(OFPT_MULTIPART_REQUEST, struct.pack("!HH4x", mp_type, 0) + body)
        out = b""
        while True:
            kind, rxid, reply = self.recv()
            if rxid != xid:
                continue
            if kind == OFPT_ERROR:
                raise OpenFlowError(_error_text(reply))
            _, flags = struct.unpack_from("!HH", reply)
            out += reply[8:]
            if not flags & 1:
                return out

    def batch(self, messages: list[bytes]) -> dict[int, str]:
        """Send pre-encoded messages (xids 1..n in order), then a barrier.

        Returns {index in `messages`: error text} for the ones the switch refused."""
        base = self._xid
        for i, message in enumerate(messages):
            xid = base + 1 + i
            self.sock.sendall(message[:4] + struct.pack("!I", xid) + message[8:])
        self._xid = base + len(messages)
        barrier = self.send(OFPT_BARRIER_REQUEST, b"")
        errors: dict[int, str] = {}
        while True:
            kind, xid, body = self.recv()
            if kind == OFPT_ERROR and base < xid <= base + len(messages):
                errors[xid - base - 1] = _error_text(body)
            elif kind == OFPT_BARRIER_REPLY and xid == barrier:
                return errors


_ERRORS = {(12, 0): "unknown meter error", (12, 1): "meter exists",
           (12, 2): "invalid meter", (12, 3): "unknown meter", (12, 4): "bad command",
           (12, 5): "bad flags", (12, 6): "bad rate", (12, 7): "bad burst",
           (12, 8): "bad band", (12, 9): "bad band value", (12, 10): "out of meters",
           (12, 11): "out of bands"}


def _error_text(body: bytes) -> str:
    etype, code = struct.unpack_from("!HH", body)
    return f"OpenFlow error {_ERRORS.get((etype, code), f'type {etype} code {code}')}"


class Switch:
    """The OpenFlow side of one bridge."""

    def __init__(self, bridge: str, rundir: str | None = None, env: dict[str, str] | None = None):
        self.bridge = bridge
        self.rundir = rundir or default_rundir()
        self.env = env
        self.processes = 0        # ovs-ofctl processes run (for the benchmark)
        self.connections = 0      # OpenFlow connections opened

    @property
    def mgmt(self) -> str:
        return os.path.join(self.rundir, f"{self.bridge}.mgmt")

    def channel(self) -> Channel:
        self.connections += 1
        return Channel(self.mgmt)

    # ---- reads ----
    def meter_features(self) -> MeterFeatures:
        with self.channel() as ch:
            body = ch.multipart(OFPMP_METER_FEATURES, b"")
        max_meter, _bands, caps = struct.unpack_from("!III", body)
        return MeterFeatures(max_meter, bool(caps & OFPMF_KBPS), bool(caps & OFPMF_PKTPS),
                             bool(caps & OFPMF_BURST))

    def read(self, cookie: int, mask: int) -> tuple[dict[int, Meter], set[int]]:
        """(every meter by id, the cookies of flows whose cookie matches cookie/mask)."""
        with self.channel() as ch:
            meters = parse_meter_configs(ch.multipart(OFPMP_METER_CONFIG,
                                                      struct.pack("!I4x", OFPM_ALL)))
            return meters, _flow_cookies(ch, cookie, mask)

    def flow_cookies(self, cookie: int = 0, mask: int = 0) -> set[int]:
        """The cookies of the bridge's flows whose cookie matches cookie/mask (mask 0:
        every flow's)."""
        with self.channel() as ch:
            return _flow_cookies(ch, cookie, mask)

    # ---- writes ----
    def meter_ops(self, ops: list[MeterOp]) -> dict[int, str]:
        """All of them on one connection; {index: error} of those refused."""
        if not ops:
            return {}
        with self.channel() as ch:
            return ch.batch([op.encode(0) for op in ops])

    def flow_bundle(self, lines: list[str]) -> str | None:
        """`ovs-ofctl --bundle add-flows BR -`: atomic; None on success, else stderr.

        A bridge limited to OpenFlow 1.3 (protocols=OpenFlow10,OpenFlow13, as Neutron
        used to set on br-int) has no bundles: the same lines go in one plain add-flows,
        still one process, no longer atomic."""
        if not lines:
            return None
        # A control character would make one line several flows: such a line is never
        # sent; its cookie is named as ovs-ofctl names a refused flow, so the failure is
        # pinned on its port and the others are retried (values are checked when pulled,
        # netqos.trust; this is the last guard).
        unsafe = [ln for ln in lines if trust.CONTROL.search(ln)]
        if unsafe:
            return "\n".join(f"refused: a control character in the flow of cookie:"
                              f"{m.group(1) if (m := _COOKIE_IN_FLOW.search(ln)) else '?'}"
                              for ln in unsafe)
        err = self._ofctl(["-O", "OpenFlow14", "--bundle"], lines)
        if err and "version negotiation failed" in err:
            err = self._ofctl(["-O", "OpenFlow13"], lines)
        return err

    def _ofctl(self, options: list[str], lines: list[str]) -> str | None:
        self.processes += 1
        proc = subprocess.run(["ovs-ofctl", *options, "add-flows", f"unix:{self.mgmt}", "-"],
                              input="\n".join(lines) + "\n", capture_output=True, text=True,
                              env=self.env)
        return None if proc.returncode == 0 else (proc.stderr.strip() or "ovs-ofctl failed")


def _flow_cookies(ch: Channel, cookie: int, mask: int) -> set[int]:
    return parse_flow_cookies(ch.multipart(OFPMP_FLOW, struct.pack(
        "!B3xII4xQQ", 0xFF, 0xFFFFFFFF, 0xFFFFFFFF, cookie, mask)
        + struct.pack("!HH4x", 1, 4)))   # an empty OXM match


def parse_meter_configs(body: bytes) -> dict[int, Meter]:
    meters, offset = {}, 0
    while offset + 8 <= len(body):
        length, flags, meter_id = struct.unpack_from("!HHI", body, offset)
        rate = burst = 0
        if length >= 24:
            _btype, _blen, rate, burst = struct.unpack_from("!HHII", body, offset + 8)
        meters[meter_id] = Meter(meter_id, "kbps" if flags & OFPMF_KBPS else "pktps", rate,
                                 burst)
        offset += max(length, 8)
    return meters


def parse_flow_cookies(body: bytes) -> set[int]:
    cookies, offset = set(), 0
    while offset + 56 <= len(body):
        (length,) = struct.unpack_from("!H", body, offset)
        (cookie,) = struct.unpack_from("!Q", body, offset + 24)
        cookies.add(cookie)
        offset += max(length, 8)
    return cookies


_COOKIE_IN_ERROR = re.compile(r"cookie:(0x[0-9a-f]+)")
_COOKIE_IN_FLOW = re.compile(r"cookie=(0x[0-9a-f]+)")


def failed_cookies(stderr: str) -> set[int]:
    """Cookies of the flow mods ovs-ofctl names in its error output."""
    return {int(c, 16) for c in _COOKIE_IN_ERROR.findall(stderr)}
