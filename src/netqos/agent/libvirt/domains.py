"""Which domain NIC is which port: libvirt's domains, read at start and on every pass, and
its events (lifecycle, device added/removed) waking the agent within milliseconds.

A NIC is a port when, in this order:
  1. its <target dev> is the port's device: binding:profile["device"], else tap<port[:11]>;
  2. the domain's metadata names the port for the NIC's MAC (or for its only NIC):
       <metadata><netqos:ports xmlns:netqos="http://netqos.org/xmlns/libvirt/1">
         <netqos:port id="PORT-UUID" mac="52:54:00:12:34:56"/></netqos:ports></metadata>
  3. its MAC equals the port's mac_address (ports of this host only: the server sends only
     those), and only when no other port of the host and no other running NIC has that
     MAC (a project chooses its port's MAC: it must never win another project's NIC).
The tap name is libvirt's (it may be vnetN, and a hard reboot makes a new tap), and the MAC
the agent classifies on is the one the guest really uses.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from netqos import trust
from netqos.wire import PortQos

LOG = logging.getLogger(__name__)
METADATA_NS = "http://netqos.org/xmlns/libvirt/1"


@dataclass(frozen=True)
class Nic:
    domain: str          # name
    uuid: str
    index: int           # position among the domain's <interface> elements
    mac: str             # lower case
    tap: str | None      # <target dev>, None while the domain is not running
    source: str = ""     # bridge or network
    port_id: str | None = None   # named by the domain's netqos metadata


def parse_domain(xml: str) -> list[Nic]:
    root = ET.fromstring(xml)
    name, uuid = root.findtext("name", ""), root.findtext("uuid", "")
    named: dict[str, str] = {}
    unnamed: list[str] = []   # port ids given without a MAC
    for port in root.iterfind(f"metadata/{{{METADATA_NS}}}ports/{{{METADATA_NS}}}port"):
        port_id, port_mac = port.get("id"), port.get("mac")
        if not port_id:
            continue
        if port_mac:
            named[port_mac.lower()] = port_id
        else:
            unnamed.append(port_id)
    nics = []
    interfaces = root.findall("devices/interface")
    for i, iface in enumerate(interfaces):
        # The MAC and tap become tc text: only well-formed ones (netqos.trust).
        mac_el = iface.find("mac")
        mac = trust.mac_or_unknown(mac_el.get("address", "") if mac_el is not None else "")
        target = iface.find("target")
        source = iface.find("source")
        src = ""
        if source is not None:
            src = source.get("bridge") or source.get("network") or source.get("dev") or ""
        port_id = named.get(mac) or (unnamed[0] if len(interfaces) == 1 and unnamed else None)
        nics.append(Nic(name, uuid, i, mac, _tap(target), src, port_id))
    return nics


def _tap(target: ET.Element | None) -> str | None:
    try:
        return trust.device_name(target.get("dev")) if target is not None else None
    except trust.Untrusted as exc:
        LOG.warning("libvirt: ignoring a NIC: %s", exc)
        return None


def match(desired: Iterable[PortQos], nics: Sequence[Nic]
          ) -> tuple[list[tuple[PortQos, Nic]], list[PortQos]]:
    """(port, its NIC) for the ports found on a running domain; the ports not found."""
    desired = list(desired)
    live = [n for n in nics if n.tap]
    by_tap = {n.tap: n for n in live}
    by_port = {n.port_id: n for n in live if n.port_id}
    by_mac = _unique_macs(desired, live)
    found, rest, taken = [], [], set()
    for port in desired:
        nic = (by_tap.get(port.device or port.tap_name) or by_port.get(port.port_id)
               or by_mac.get(port.mac_address.lower()))
        if nic is None or (nic.uuid, nic.index) in taken:
            rest.append(port)
            continue
        taken.add((nic.uuid, nic.index))
        found.append((dataclasses.replace(port, device=nic.tap,
                                          mac_address=nic.mac or port.mac_address), nic))
    return found, rest


def _unique_macs(desired: Sequence[PortQos], live: Sequence[Nic]) -> dict[str, Nic]:
    """MAC -> NIC for the fallback, only where the MAC is one port's among the host's
    ports and one running NIC's: a project chooses its port's MAC, and two ports sharing
    one (on different networks) must not get each other's NIC."""
    ports = Counter(p.mac_address.lower() for p in desired if p.mac_address)
    nics = Counter(n.mac for n in live if n.mac)
    return {n.mac: n for n in live if ports[n.mac] == 1 and nics[n.mac] == 1}


# libvirt-python ships no type information (no stubs, no py.typed): its connections and
# domains are Any to mypy.
VirConnect = Any
VirDomain = Any


def _libvirt() -> ModuleType:
    try:
        import libvirt
    except ImportError as exc:   # pragma: no cover - depends on the host
        raise RuntimeError("the libvirt backend needs libvirt-python: "
                           "pip install 'netqos[libvirt]'") from exc
    module: ModuleType = libvirt
    return module


_event_impl = threading.Lock()
_event_thread: threading.Thread | None = None


def _ensure_event_loop() -> None:
    """virEventRegisterDefaultImpl once per process, and a thread running its loop.
    Must happen before the connection whose events we want is opened."""
    global _event_thread
    libvirt = _libvirt()
    with _event_impl:
        if _event_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:   # keep the loop alive whatever a callback did
                    LOG.exception("libvirt event loop iteration failed")
                    time.sleep(0.1)
        _event_thread = threading.Thread(target=run, name="netqos-libvirt-events",
                                         daemon=True)
        _event_thread.start()


class Domains:
    """The host's running domains and their NICs, over one connection; events wake."""

    def __init__(self, uri: str | None = None,
                 connect: Callable[[str | None], VirConnect] | None = None):
        self.uri = uri
        self._connect = connect      # tests inject a fake: connect(uri) -> connection
        self._conn: VirConnect | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._callbacks: list[int] = []
        self.last_event: tuple[float, str, str] | None = None   # (monotonic, domain, what)

    # ---- the connection ----
    def conn(self) -> VirConnect:
        with self._lock:
            if self._conn is not None:
                try:
                    if self._conn.isAlive():
                        return self._conn
                except Exception:
                    pass
                self._conn = None
            self._conn = self._open()
            return self._conn

    def _open(self) -> VirConnect:
        if self._connect is not None:
            return self._connect(self.uri)
        libvirt = _libvirt()
        _ensure_event_loop()
        conn = libvirt.open(self.uri)
        conn.registerCloseCallback(self._closed, None)
        self._callbacks = [
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                        self._lifecycle, None),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                        self._device, "added"),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                        self._device, "removed"),
        ]
        conn.setKeepAlive(5, 3)
        LOG.info("libvirt: connected to %s, watching domain events", conn.getURI())
        return conn

    # ---- events ----
    def watch(self, on_change: Callable[[], None]) -> Callable[[], None]:
        """Call `on_change` on every domain event; returns a function that stops it.
        A watcher thread reconnects (and then wakes) when libvirtd restarts."""
        self._listeners.append(on_change)
        stop = threading.Event()

        def keep_connected() -> None:
            while not stop.wait(2.0):
                had = self._conn is not None
                try:
                    self.conn()
                except Exception as exc:
                    LOG.warning("libvirt: cannot connect to %s: %s", self.uri, exc)
                    continue
                if not had:
                    self._fire("(reconnected)", "connect")
        try:
            self.conn()
        except Exception as exc:
            LOG.warning("libvirt: cannot connect to %s yet: %s", self.uri, exc)
        threading.Thread(target=keep_connected, name="netqos-libvirt-conn",
                         daemon=True).start()

        def unwatch() -> None:
            stop.set()
            if on_change in self._listeners:
                self._listeners.remove(on_change)
        return unwatch

    def _fire(self, domain: str, what: str) -> None:
        self.last_event = (time.monotonic(), domain, what)
        LOG.debug("libvirt event: %s %s", domain, what)
        for listener in list(self._listeners):
            listener()

    def _lifecycle(self, conn: VirConnect, dom: VirDomain, event: int, detail: int,
                   opaque: None) -> None:
        self._fire(dom.name(), f"lifecycle {event}/{detail}")

    def _device(self, conn: VirConnect, dom: VirDomain, alias: str, opaque: str) -> None:
        self._fire(dom.name(), f"device {opaque} {alias}")

    def _closed(self, conn: VirConnect, reason: int, opaque: None) -> None:
        LOG.warning("libvirt: connection closed (reason %s); reconnecting", reason)
        with self._lock:
            self._conn = None

    # ---- queries ----
    def nics(self) -> list[Nic]:
        """Every NIC of every running domain (one XMLDesc per domain)."""
        conn = self.conn()
        out: list[Nic] = []
        for dom in conn.listAllDomains(1):   # VIR_CONNECT_LIST_DOMAINS_ACTIVE
            try:
                out += parse_domain(dom.XMLDesc(0))
            except Exception as exc:   # the domain stopped while we looked
                LOG.debug("libvirt: skipping a domain: %s", exc)
        return out

    def domain(self, uuid: str) -> VirDomain:
        return self.conn().lookupByUUIDString(uuid)
