"""Real libvirt guests for tests and benchmarks (root): daemons, a guest image, a bridge.

- `Daemons`: use the system libvirtd if it answers, else start `virtlogd -d` and
  `libvirtd -d` as the system daemons (no systemd on these machines) and stop them again.
- `build_guest(cache)`: a guest that boots to `iperf3 -s` in seconds, built in ~3 s from
  Debian packages: the `linux-image-amd64` kernel (`apt-get download` + `dpkg-deb -x`, never
  installed), and an initramfs of busybox-static, iperf3 with the libraries ldd names, and the
  virtio modules (virtio_ring, virtio, virtio_pci (+ its helpers), virtio_net (+ failover)).
  /init gives eth0 a static address (kernel command line `nq.ip=`) and runs `iperf3 -s`.
- `Bridge`: a Linux bridge in the root namespace (libvirtd's) with a free 198.19.x.1/24
  (only 198.18.0.0/15 is used), named uniquely, deleted on close.
- `Guest`: one domain, `<domain type='qemu'>` (TCG) unless a working kvm was probed,
  128 MiB, direct kernel boot, `<interface type='bridge'>` with a fixed `<target dev>` and
  `<mac>`, serial console logged to a file. start/destroy/undefine.
- `virt_type()`: probes kvm once (a short boot with a timeout; /dev/kvm here is a PVM flavour
  that cannot boot a stock kernel) and falls back to qemu; the answer is cached per kernel.

The Debian packages come from the Makefile's TEST_DEBS (`make debs-test`), which the
fixtures run when something is missing and they are root.
"""
from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.netns import sh

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".netqos-test" / "guest"
SYSTEM_URI = "qemu:///system"
DEBS = ("libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "busybox-static",
        "libvirt-dev", "pkg-config", "iperf3")
MODULES = ("virtio_net", "virtio_pci")   # and what modules.dep says they need


# ---- packages ------------------------------------------------------------------------

def missing_debs() -> list[str]:
    out = []
    for pkg in DEBS:
        res = sh("dpkg-query", "-W", "-f=${Status}", pkg, check=False)
        if "install ok installed" not in res.stdout:
            out.append(pkg)
    return out


def ensure_debs() -> list[str]:
    """Install the Makefile's test packages when some are missing (root only); what is
    still missing afterwards."""
    missing = missing_debs()
    if missing and os.geteuid() == 0 and shutil.which("make"):
        sh("make", "-C", str(REPO), "debs-test", check=False, timeout=1800)
        missing = missing_debs()
    return missing


# ---- daemons -------------------------------------------------------------------------

def _answers(uri: str = SYSTEM_URI) -> bool:
    return sh("virsh", "-c", uri, "version", check=False, timeout=30).returncode == 0


def _pid_of(pidfile: str) -> int | None:
    try:
        pid = int(Path(pidfile).read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


class Daemons:
    """libvirtd + virtlogd: the running system ones, or started here (and stopped by stop())."""

    def __init__(self):
        self.started: list[tuple[str, int]] = []

    def start(self, timeout: float = 60) -> "Daemons":
        if _answers():
            return self
        for name in ("virtlogd", "libvirtd"):
            pidfile = f"/run/{name}.pid"
            if _pid_of(pidfile) is None:
                sh(name, "-d", timeout=30)
                deadline = time.monotonic() + 10
                while _pid_of(pidfile) is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                pid = _pid_of(pidfile)
                if pid is not None:
                    self.started.append((name, pid))
        deadline = time.monotonic() + timeout   # the first start builds the capability cache
        while not _answers():
            if time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not answer on qemu:///system")
            time.sleep(0.3)
        return self

    def stop(self) -> None:
        if os.environ.get("NETQOS_KEEP_LIBVIRTD"):
            return
        for _name, pid in reversed(self.started):
            try:
                os.kill(pid, 15)
            except OSError:
                continue
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.05)
        self.started.clear()


# ---- the guest image ---------------------------------------------------------------

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /modules.order); do insmod /lib/mod/$m.ko; done
ip=$(sed -n 's/.*nq\\.ip=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
ip link set lo up
ip link set eth0 up
ip addr add $ip dev eth0
echo "netqos-guest: eth0 $ip up"
while true; do /bin/iperf3 -s; sleep 0.2; done
"""


@dataclass
class GuestImage:
    kernel: Path
    initrd: Path


def _download_kernel(cache: Path) -> Path:
    """The kernel package linux-image-amd64 points at, unpacked under cache/kernel."""
    root = cache / "kernel"
    if list(root.glob("boot/vmlinuz-*")):
        return root
    deps = sh("apt-cache", "depends", "linux-image-amd64").stdout
    m = re.search(r"Depends: (linux-image-\S+)", deps)
    if not m:
        raise RuntimeError(f"cannot tell which kernel linux-image-amd64 is: {deps}")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{m.group(1)}_*.deb")):
        sh("apt-get", "download", m.group(1), cwd=debs, timeout=900)
    deb = next(debs.glob(f"{m.group(1)}_*.deb"))
    tmp = cache / "kernel.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    sh("dpkg-deb", "-x", str(deb), str(tmp), timeout=300)
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def _module_order(kroot: Path) -> tuple[Path, list[str], dict[str, str]]:
    """The virtio modules and their dependencies, dependencies first (read from each
    module's .modinfo `depends=`: the package has no modules.dep, depmod makes that)."""
    moddir = next(kroot.glob("lib/modules/*"))
    paths = {_modname(str(p)): str(p.relative_to(moddir))
             for p in moddir.rglob("*.ko*") if p.is_file()}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in paths:
            return
        info = re.search(rb"depends=([^\0]*)\0", _read_module(moddir / paths[name]))
        for dep in (info.group(1).decode().split(",") if info else []):
            if dep:
                visit(dep.replace("-", "_"))
        order.append(name)
    for mod in MODULES:
        visit(mod)
    return moddir, order, paths


def _modname(path: str) -> str:
    return re.sub(r"\.ko(\.(xz|zst|gz))?$", "", os.path.basename(path)).replace("-", "_")


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        import lzma
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        return sh("zstd", "-dc", str(path)).stdout.encode("latin-1")
    return data


def _libs(binary: str) -> list[str]:
    out = sh("ldd", binary).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


class _Cpio:
    """A newc cpio archive, written by hand (no cpio binary on these machines)."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.ino = 1
        self.dirs: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"") -> None:
        self.ino += 1
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        head = b"070701" + b"".join(b"%08X" % f for f in fields)
        rec = head + name.encode() + b"\0"
        rec += b"\0" * (-len(rec) % 4)
        rec += data + b"\0" * (-len(data) % 4)
        self.chunks.append(rec)

    def mkdir(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o755) -> None:
        name = name.strip("/")
        if "/" in name:
            self.mkdir(name.rsplit("/", 1)[0])
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        name = name.strip("/")
        if "/" in name:
            self.mkdir(name.rsplit("/", 1)[0])
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def bytes(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.chunks)


def build_guest(cache: Path = CACHE) -> GuestImage:
    """Kernel + initramfs (cached; the initramfs is rebuilt when missing)."""
    cache.mkdir(parents=True, exist_ok=True)
    kroot = _download_kernel(cache)
    kernel = next(kroot.glob("boot/vmlinuz-*"))
    initrd = cache / "initrd.gz"
    if initrd.exists() and initrd.stat().st_mtime >= Path(__file__).stat().st_mtime:
        return GuestImage(kernel, initrd)
    moddir, order, paths = _module_order(kroot)
    archive = _Cpio()
    for d in ("proc", "sys", "dev", "tmp", "bin", "lib/mod"):
        archive.mkdir(d)
    archive.file("bin/busybox", Path("/bin/busybox").read_bytes())
    archive.symlink("bin/sh", "busybox")
    iperf = shutil.which("iperf3")
    if not iperf or not Path("/bin/busybox").exists():
        raise RuntimeError("building the guest needs iperf3 and busybox-static")
    archive.file("bin/iperf3", Path(iperf).read_bytes())
    for lib in _libs(iperf):
        real = Path(lib).resolve()
        archive.file(lib, real.read_bytes())
    for name in order:
        archive.file(f"lib/mod/{name}.ko", _read_module(moddir / paths[name]), 0o644)
    archive.file("modules.order", ("\n".join(order) + "\n").encode(), 0o644)
    archive.file("init", INIT.encode())
    tmp = initrd.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(archive.bytes(), compresslevel=1))
    tmp.rename(initrd)
    return GuestImage(kernel, initrd)


# ---- the bridge ----------------------------------------------------------------------

def _used_198_subnets() -> set[str]:
    out = sh("ip", "-4", "-o", "addr", "show", check=False).stdout
    return {m.group(1) for m in re.finditer(r"inet (198\.1[89]\.\d+)\.\d+", out)}


@dataclass
class Bridge:
    name: str = field(default_factory=lambda: f"nqlvbr{os.getpid() % 100000}")
    subnet: str = ""          # "198.19.N"

    def create(self) -> "Bridge":
        used = _used_198_subnets()
        base = 200 + os.getpid() % 50
        for n in list(range(base, 255)) + list(range(200, base)):
            if f"198.19.{n}" not in used:
                self.subnet = f"198.19.{n}"
                break
        sh("ip", "link", "del", self.name, check=False)
        sh("ip", "link", "add", self.name, "type", "bridge", "stp_state", "0",
           "forward_delay", "0")
        sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.name)
        sh("ip", "link", "set", self.name, "up")
        return self

    @property
    def host_ip(self) -> str:
        return f"{self.subnet}.1"

    def delete(self) -> None:
        sh("ip", "link", "del", self.name, check=False)


# ---- guests ------------------------------------------------------------------------

DOMAIN_XML = """<domain type='{virt}'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 nq.ip={ip}/24</cmdline>
  </os>
  {cpu}
  <on_reboot>restart</on_reboot>
  <devices>
    <interface type='bridge'>
      <source bridge='{bridge}'/>
      <target dev='{tap}'/>
      <mac address='{mac}'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'><log file='{log}' append='on'/></serial>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
  {metadata}
</domain>
"""


@dataclass
class Guest:
    name: str
    image: GuestImage
    bridge: Bridge
    ip: str
    mac: str
    tap: str
    virt: str = "qemu"
    log: Path = Path("/tmp")
    metadata: str = ""
    uri: str = SYSTEM_URI

    def xml(self) -> str:
        cpu = "<cpu mode='host-passthrough'/>" if self.virt == "kvm" else ""
        return DOMAIN_XML.format(virt=self.virt, name=self.name, kernel=self.image.kernel,
                                 initrd=self.image.initrd, ip=self.ip, cpu=cpu,
                                 bridge=self.bridge.name, tap=self.tap, mac=self.mac,
                                 log=self.log, metadata=self.metadata)

    def virsh(self, *args: str, check: bool = True, timeout: float = 60):
        return sh("virsh", "-c", self.uri, *args, check=check, timeout=timeout)

    def define(self) -> "Guest":
        self.undefine()
        path = self.log.with_suffix(".xml")
        path.write_text(self.xml())
        self.virsh("define", str(path))
        return self

    def start(self) -> None:
        self.virsh("start", self.name)

    def destroy(self) -> None:
        self.virsh("destroy", self.name, check=False)

    def undefine(self) -> None:
        self.destroy()
        self.virsh("undefine", self.name, check=False)

    def running(self) -> bool:
        return "running" in self.virsh("domstate", self.name, check=False).stdout

    def iperf_answers(self, timeout: float = 0.3) -> bool:
        try:
            with socket.create_connection((self.ip, 5201), timeout=timeout):
                return True
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until the guest's iperf3 server accepts connections."""
        t0 = time.monotonic()
        while not self.iperf_answers():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"guest {self.name} not answering after {timeout} s; "
                                   f"console:\n{_tail(self.log)}")
            time.sleep(0.1)
        return time.monotonic() - t0


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as exc:
        return f"(no console log: {exc})"


def process_guest(image: GuestImage, bridge: Bridge, virt: str, name: str, tap: str,
                  mac_byte: int, log: Path) -> Guest:
    """The guest of this test process: names, tap and MAC carry the pid, so two runs side
    by side never collide; it takes .2 on the bridge."""
    n = os.getpid() % 100000
    return Guest(f"{name}{n}", image, bridge, f"{bridge.subnet}.2",
                 f"52:54:00:{mac_byte:02x}:{n >> 8 & 255:02x}:{n & 255:02x}", f"{tap}{n}",
                 virt=virt, log=log)


# ---- kvm or qemu -------------------------------------------------------------------

def virt_type(image: GuestImage, bridge: Bridge, cache: Path = CACHE,
              timeout: float = 20) -> str:
    """'kvm' if a kvm guest boots to iperf3 within `timeout` s, else 'qemu' (cached)."""
    forced = os.environ.get("NETQOS_VIRT_TYPE")
    if forced in ("kvm", "qemu"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "qemu"
    stamp = cache / f"virt-type-{os.uname().release}"
    if stamp.exists():
        return stamp.read_text().strip()
    guest = Guest(f"nqkvmprobe{os.getpid()}", image, bridge, f"{bridge.subnet}.250",
                  "52:54:00:c6:13:fa", f"nqkp{os.getpid() % 100000}", virt="kvm",
                  log=cache / "kvm-probe.log")
    answer = "qemu"
    try:
        guest.define().start()
        guest.wait_ready(timeout)
        answer = "kvm"
    except Exception:
        pass
    finally:
        guest.undefine()
    stamp.write_text(answer)
    return answer
