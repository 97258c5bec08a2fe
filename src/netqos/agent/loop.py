"""The agent's loop: pull desired state, read actual state, apply the difference, report.

Level-triggered: every pass converges on what the server holds now, whatever woke it (a
bus event, a device appearing, a changed host revision or the periodic resync). A lost
notification, a crash half-way through an apply, or a qdisc deleted by hand are all
repaired by the next pass.

Triggers, and how often each runs:
- bus event (`notify`): an event naming this host (or no host) with a revision above the
  one last applied wakes the loop at once; older or equal ones are ignored. Events only
  wake: the pass pulls the whole host, so many events coalesce into one pass, and a pass
  always lands on the newest state. If the pull comes back older than an event already
  seen (it should not, as events are published after commit), the pass is retried.
- bus (re)connection (`resync_now`): a full pass, since events may have been lost while
  the connection was down (the subscriber calls it once its queues exist, so nothing
  committed after that pull can be missed).
- revision poll (`poll_interval`): a cheap GET of the host's revision; the fallback that
  makes an agent without a bus converge within 2 s. With a bus it is off by default.
- full resync (`resync_interval`): repairs drift (qdiscs changed by hand) and is the
  safety net for everything else.
- a failed pass (server away) is retried after 1 s, backing off to 5 s.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netqos import trust
from netqos.agent import links
from netqos.agent.backends.base import ApplyResult, Backend, Change, Enforced
from netqos.agent.client import Doc, ServerClient
from netqos.wire import Event, PortQos
from netqos.agent.tc.runner import Runner

if TYPE_CHECKING:   # both import this module's Agent
    from netqos.agent.l2.linuxbridge.role import L2Role
    from netqos.agent.metrics import AgentMetrics

# Any backend: the loop hands each backend its own pull (PortQos or RouterQos items) and its
# own observe result back; the type parameters of one Backend[D, A] are not expressible
# for "whichever backend the agent was given", so they are Any here. What the loop reads of
# the items itself is an Enforced (port_id, revision, device, rules); PortQos-only fields
# (admin_state_up) are read only on the paths that port backends take (link_devices, l2).
AnyBackend = Backend[Any, Any]

LOG = logging.getLogger(__name__)


@dataclass
class AgentConfig:
    host: str
    netns: str | None = None
    poll_interval: float = 2.0         # seconds between cheap "did my host change?" asks;
                                       # 0: never (with a bus, events take its place)
    resync_interval: float = 30.0      # seconds between full passes (drift repair)
    heartbeat_interval: float = 10.0
    uplinks: dict[str, int] = field(default_factory=dict)   # name -> capacity kbit/s


@dataclass
class PassResult:
    revision: int
    changes: list[Change]
    result: ApplyResult
    missing: list[str]                 # ports of this host whose device is not here


class Agent:
    def __init__(self, config: AgentConfig, client: ServerClient, backend: AnyBackend):
        self.config = config
        self.client = client
        self.backend = backend
        self.revision: int | None = None          # host revision of the last full pass
        self._wake = threading.Event()
        self._reported: dict[str, tuple[int, str, str]] = {}   # port -> (revision, status,
                                                               # reason)
        self._last_heartbeat = 0.0
        self._last_pass = 0.0
        self._last_poll = 0.0
        self._wanted = 0                          # newest revision an event announced
        self._force = False                       # a full pass is owed (bus reconnected)
        self._retry_at: float | None = None       # when to retry a failed or short pass
        self._failures = 0
        self.bus_info: str | None = None          # shown in the agent's configurations
        self.metrics: AgentMetrics | None = None
        self._links: Runner | None = None         # runs `ip` for the admin state
        self.ports_here: list[Enforced] = []      # with a device, as of the last pass
        self.l2: L2Role | None = None             # (--l2): wires the ports' networks

    # --- triggers -------------------------------------------------------------------
    def wake(self, *_args: object) -> None:
        """Ask for a pass as soon as possible (bus event, device event)."""
        self._wake.set()

    def notify(self, event: Event) -> None:
        """A bus event (netqos.wire.Event): wake if it is newer than what we hold."""
        applied = self.revision or 0
        if event.hosts and self.config.host not in event.hosts:
            return
        if event.revision <= max(applied, self._wanted):
            LOG.debug("ignoring %s %s at revision %s (have %s)", event.resource, event.id,
                      event.revision, applied)
            return
        LOG.debug("event %s %s at revision %s", event.resource, event.id, event.revision)
        if event.hosts:   # it raised this host's revision: a pass must reach it
            self._wanted = max(self._wanted, event.revision)
        self._wake.set()

    def resync_now(self) -> None:
        """Pull the whole host at once (after a bus reconnection: events may be lost)."""
        self._force = True
        self._wake.set()

    # --- one pass -------------------------------------------------------------------
    def sync(self) -> PassResult:
        revision, here, missing = self._pull()
        self.ports_here = here
        if self.l2 is not None:
            self.l2.update(self.client.l2_block)
        started = time.monotonic()
        held = self._hold_links(here, up=False)
        changes, result = self.backend.sync(here)
        held.update(self._hold_links([p for p in here if p.port_id not in result.errors],
                                     up=True))
        for port_id, reason in held.items():
            result.errors.setdefault(port_id, reason)
        if self.l2 is not None:
            self.l2.annotate(changes, result)
        if self.metrics is not None:
            self.metrics.pass_done(here, missing, changes, result, time.monotonic() - started)
        for change in changes:
            LOG.info("%s", change)
        if changes or revision != self.revision:
            LOG.info("pass at host revision %s: %d port(s) here, %d missing, %d change(s), "
                     "%d error(s)", revision, len(here), len(missing), len(changes),
                     len(result.errors))
        self._report(here, missing, changes, result)
        self.revision = revision
        self._last_pass = time.monotonic()
        return PassResult(revision, changes, result, [p.port_id for p in missing])

    def _hold_links(self, ports: list[PortQos], up: bool) -> dict[str, str]:
        """Admin state (netqos.agent.links): down before the QoS changes, up after them,
        and only once the port's QoS holds. Backends whose ports are not links (SR-IOV
        VFs, routers) have no such hold."""
        if not self.backend.link_devices:
            return {}
        if self._links is None:
            self._links = Runner(self.config.netns)
        return links.hold(self._links, [p for p in ports if p.admin_state_up == up], up)

    def plan(self) -> list[Change]:
        """What a pass would change, without changing anything."""
        _, here, _ = self._pull()
        return self.backend.plan(here, self.backend.observe(here))

    def _pull(self) -> tuple[int, list[Any], list[Any]]:   # the backend's items (see above)
        """(host revision, what is here to enforce, what has no device here): the host's
        ports, or what a backend with a desired state of its own pulls (the L3 role)."""
        return self.backend.pull(self.client, self.config.host)

    def _report(self, here: list[PortQos], missing: list[PortQos], changes: list[Change],
                result: ApplyResult) -> None:
        drift: dict[str, list[str]] = {}
        for change in changes:
            if change.drift and change.port_id not in result.errors:
                drift.setdefault(change.port_id, []).append(str(change).strip())
        entries = []
        for port in here:
            error = result.errors.get(port.port_id)
            status = ("ERROR", error) if error else ("ACTIVE", "")
            if not error and self.l2 is not None and not port.admin_state_up:
                status = ("DOWN", "admin state down")     # the L2 role unplugged it
            entries.append(self._entry(port, *status, drift.get(port.port_id)))
        for port in missing:
            entries.append(self._entry(port, "DOWN", "no device for the port on this host",
                                       None))
        # What the pull refused (netqos.trust): left out of the pass, reported.
        for refused in self.client.refused:
            entries.append(self._entry(refused, refused.status, refused.reason, None))
        reports = [e for e in entries if e is not None]
        agent = self._agent_info() if self._heartbeat_due() else None
        if reports or agent:
            self.client.report(self.config.host, agent, reports)

    def _entry(self, port: Enforced | trust.Refused, status: str, reason: str,
               drift: list[str] | None) -> Doc | None:
        key = (port.revision, status, reason)
        if self._reported.get(port.port_id) == key and not drift:
            return None  # the server already knows
        self._reported[port.port_id] = key
        return {"port_id": port.port_id, "revision": port.revision, "status": status,
                "reason": reason, "drift": drift}

    def _heartbeat_due(self) -> bool:
        return time.monotonic() - self._last_heartbeat >= self.config.heartbeat_interval

    def _agent_info(self) -> Doc:
        first = self._last_heartbeat == 0.0
        self._last_heartbeat = time.monotonic()
        info = self.backend.describe()
        return {**info, "uplinks": self.config.uplinks,
                "configurations": {**info["configurations"], "netns": self.config.netns,
                                   "poll_interval": self.config.poll_interval,
                                   "resync_interval": self.config.resync_interval,
                                   "heartbeat_interval": self.config.heartbeat_interval,
                                   "bus": self.bus_info,
                                   **(self.l2.engine.configurations() if self.l2 else {})},
                "started": first}

    # --- the loop -------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        watcher = self.backend.watcher(self.config.netns, self.wake)
        watcher.start()
        if self.l2 is not None:
            self.l2.start()
        try:
            while not stop.is_set():
                self._step()
                if self._backing_off(time.monotonic()):
                    # Not on _wake: a wake-up that arrives now stays set for when the
                    # back-off ends, and must not turn this wait into a busy loop.
                    stop.wait(self._timeout())
                else:
                    self._wake.wait(self._timeout())
        finally:
            watcher.stop()
            if self.l2 is not None:
                self.l2.stop()

    def _timeout(self) -> float:
        """Seconds until something is due: resync, heartbeat, poll or a retry."""
        now = time.monotonic()
        if self._retry_at is not None and self._failures:
            return max(0.01, self._retry_at - now)
        due = [self._last_pass + self.config.resync_interval,
               self._last_heartbeat + self.config.heartbeat_interval]
        if self.config.poll_interval > 0:
            due.append(self._last_poll + self.config.poll_interval)
        if self._retry_at is not None:
            due.append(self._retry_at)
        return max(0.01, min(due) - now)

    def _backing_off(self, now: float) -> bool:
        return self._retry_at is not None and now < self._retry_at and self._failures > 0

    def _step(self) -> None:
        now = time.monotonic()
        if self._backing_off(now):
            return  # backing off after a failure: neither events nor dues may spin us
        try:
            woken = self._wake.is_set()
            self._wake.clear()
            forced, self._force = self._force, False
            retry = self._retry_at is not None and now >= self._retry_at
            resync_due = now - self._last_pass >= self.config.resync_interval
            poll_due = (self.config.poll_interval > 0
                        and now - self._last_poll >= self.config.poll_interval)
            if poll_due:
                self._last_poll = now
            if woken or forced or retry or resync_due or self.revision is None \
                    or (poll_due and self.client.revision(self.config.host) != self.revision):
                self._retry_at = None
                passed = self.sync()
                self._failures = 0
                if passed.revision < self._wanted:   # pulled an older state than announced
                    self._retry_at = time.monotonic() + 0.2
            elif self._heartbeat_due():
                self.client.report(self.config.host, self._agent_info(), [])
        except Exception as exc:  # server away, kernel refused: retry soon
            if forced:
                self._force = True
            self._failures += 1
            if self.metrics is not None:
                self.metrics.pass_failed()
            self._retry_at = time.monotonic() + min(5.0, 0.5 * 2 ** min(self._failures, 4))
            LOG.warning("agent pass failed: %s", exc)
            LOG.debug("agent pass failure", exc_info=True)
