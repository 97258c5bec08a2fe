"""The port classifier: a 12-instruction eBPF program and its map, through bpf(2) and ctypes.

Why eBPF: a VM's egress is shaped on the shared IFB, and the IFB's qdisc cannot see which
port a packet came in on; this kernel has no skbedit or fw to carry that across. So the
shared tc block every managed tap binds runs, before its mirred redirect, this direct-action
program:

    priority = ports[skb->ifindex] or 0;  return TC_ACT_UNSPEC   (go on to the redirect)

`ports` maps the tap's ifindex to the port's HTB classid on the IFB, and HTB picks the
class whose id equals skb->priority before any filter runs. Nothing the guest sends (MAC,
VLAN, address, its socket priority) takes part. One map update per port; no clang: the
program is assembled below and loaded with bpf(2).

The program is attached by `tc ... bpf da object-pinned PATH` (so it rides the same
`tc -batch` as everything else): it is pinned on a bpffs of our own under PIN_ROOT for the
batch and unpinned after. From then on the filter holds the program and the program holds
the map, so both live exactly as long as the block: nothing outlives a deleted namespace.
The agent finds the map again through the program id that `tc -j filter show block` prints.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
from typing import Self

PIN_ROOT = "/run/netqos/bpf"
MAX_PORTS = 65536

_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)
_MAP_CREATE, _MAP_LOOKUP, _MAP_UPDATE, _MAP_DELETE, _MAP_NEXT_KEY = 0, 1, 2, 3, 4
_PROG_LOAD, _OBJ_PIN = 5, 6
_PROG_GET_FD_BY_ID, _MAP_GET_FD_BY_ID, _OBJ_GET_INFO_BY_FD = 13, 14, 15
_MAP_TYPE_HASH, _PROG_TYPE_SCHED_CLS = 1, 3
_SKB_PRIORITY, _SKB_IFINDEX = 32, 40      # offsets in struct __sk_buff
_TC_ACT_UNSPEC = -1
_HELPER_MAP_LOOKUP = 1

_libc = ctypes.CDLL(None, use_errno=True)


class BpfError(OSError):
    pass


def _bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
    ret = _libc.syscall(_SYS_BPF, cmd, buf, 128)
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(err, f"bpf({cmd}): {os.strerror(err)}")
    return int(ret)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(map_fd: int) -> bytes:
    """The classifier, hand-assembled (eBPF opcodes in the comments)."""
    return b"".join([
        _insn(0xbf, 6, 1),                          # r6 = r1 (skb)
        _insn(0x61, 2, 1, _SKB_IFINDEX),            # r2 = skb->ifindex
        _insn(0x63, 10, 2, -4),                     # *(u32 *)(fp - 4) = r2
        _insn(0xbf, 2, 10),                         # r2 = fp
        _insn(0x07, 2, 0, 0, -4),                   # r2 += -4  (&key)
        _insn(0x18, 1, 1, 0, map_fd), _insn(0),     # r1 = map (ld_imm64, pseudo map fd)
        _insn(0x85, 0, 0, 0, _HELPER_MAP_LOOKUP),   # r0 = map_lookup_elem(r1, r2)
        _insn(0xb7, 1, 0, 0, 0),                    # r1 = 0 (unknown tap: HTB default)
        _insn(0x15, 0, 0, 1, 0),                    # if r0 == 0 goto +1
        _insn(0x61, 1, 0, 0),                       # r1 = *(u32 *)r0 (classid)
        _insn(0x63, 6, 1, _SKB_PRIORITY),           # skb->priority = r1
        _insn(0xb7, 0, 0, 0, _TC_ACT_UNSPEC),       # r0 = TC_ACT_UNSPEC: next filter
        _insn(0x95),                                # exit
    ])


def _create_map() -> int:
    return _bpf(_MAP_CREATE, struct.pack("<IIIII", _MAP_TYPE_HASH, 4, 4, MAX_PORTS, 0))


def _load(map_fd: int) -> int:
    code = ctypes.create_string_buffer(program(map_fd))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    attr = struct.pack("<IIQQIIQ", _PROG_TYPE_SCHED_CLS, len(code.raw) // 8,
                       ctypes.addressof(code), ctypes.addressof(lic), 1, len(log),
                       ctypes.addressof(log))
    try:
        return _bpf(_PROG_LOAD, attr)
    except BpfError as e:
        raise BpfError(e.errno, f"{e.strerror}: {log.value.decode(errors='replace')}") from e


def can_load() -> bool:
    """Whether this kernel loads the classifier (root, eBPF, the hash map type)."""
    try:
        map_fd = _create_map()
    except OSError:
        return False
    try:
        os.close(_load(map_fd))
        return True
    except OSError:
        return False
    finally:
        os.close(map_fd)


def _ensure_bpffs() -> None:
    os.makedirs(PIN_ROOT, exist_ok=True)
    with open("/proc/self/mounts") as mounts:
        if any(line.split()[1] == PIN_ROOT and line.split()[2] == "bpf" for line in mounts):
            return
    subprocess.run(["mount", "-t", "bpf", "bpf", PIN_ROOT], check=True, capture_output=True)


def pin_new_program(name: str) -> str:
    """Load a fresh map + program and pin the program at PIN_ROOT/name for `tc` to attach.
    The caller unpins it (unpin) once tc holds it."""
    _ensure_bpffs()
    path = os.path.join(PIN_ROOT, name)
    unpin(path)
    map_fd = _create_map()
    try:
        prog_fd = _load(map_fd)
    finally:
        os.close(map_fd)   # the program holds the map now
    try:
        p = ctypes.create_string_buffer(path.encode())
        _bpf(_OBJ_PIN, struct.pack("<QII", ctypes.addressof(p), prog_fd, 0))
    finally:
        os.close(prog_fd)
    return path


def unpin(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class PortMap:
    """The `ports` map of an attached program (found by the program's id): ifindex -> classid."""

    def __init__(self, prog_id: int):
        prog_fd = _bpf(_PROG_GET_FD_BY_ID, struct.pack("<I", prog_id))
        try:
            map_id = _first_map_id(prog_fd)
        finally:
            os.close(prog_fd)
        self.fd = _bpf(_MAP_GET_FD_BY_ID, struct.pack("<I", map_id))

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _op(self, cmd: int, key: int, value: int | None = None) -> int:
        k = ctypes.c_uint32(key)
        v = ctypes.c_uint32(value or 0)
        # the kernel refuses a delete whose attr has anything set past the key
        v_ptr = 0 if cmd == _MAP_DELETE else ctypes.addressof(v)
        attr = struct.pack("<IIQQQ", self.fd, 0, ctypes.addressof(k), v_ptr, 0)
        _bpf(cmd, attr)
        return v.value

    def set(self, ifindex: int, classid: int) -> None:
        self._op(_MAP_UPDATE, ifindex, classid)

    def delete(self, ifindex: int) -> None:
        try:
            self._op(_MAP_DELETE, ifindex)
        except BpfError as e:
            if e.errno != errno.ENOENT:
                raise

    def items(self) -> dict[int, int]:
        out: dict[int, int] = {}
        key = ctypes.c_uint32(0)
        nxt = ctypes.c_uint32(0)
        first = True
        while True:
            attr = struct.pack("<IIQQQ", self.fd, 0, 0 if first else ctypes.addressof(key),
                               ctypes.addressof(nxt), 0)
            try:
                _bpf(_MAP_NEXT_KEY, attr)
            except BpfError as e:
                if e.errno == errno.ENOENT:
                    return out
                raise
            first = False
            key.value = nxt.value
            out[key.value] = self._op(_MAP_LOOKUP, key.value)


def _first_map_id(prog_fd: int) -> int:
    info = ctypes.create_string_buffer(256)
    ids = (ctypes.c_uint32 * 4)()
    struct.pack_into("<IQ", info, 52, 4, ctypes.addressof(ids))   # nr_map_ids, map_ids
    _bpf(_OBJ_GET_INFO_BY_FD, struct.pack("<IIQ", prog_fd, 256, ctypes.addressof(info)))
    if struct.unpack_from("<I", info, 52)[0] < 1:
        raise BpfError(errno.ENOENT, "classifier program has no map")
    return ids[0]
