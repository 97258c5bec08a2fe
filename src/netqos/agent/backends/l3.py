"""The L3 backend: floating-IP and router-gateway bandwidth limits on the network node.

Run it as the agent's L3 role, `netqos agent --backend l3 --host <network node>`: it pulls
GET /v2.0/netqos/hosts/{host}/routers instead of the host's ports, finds the routers'
qrouter- namespaces, and shapes on their qg- devices (see netqos.agent.l3 for the layout).
It reports to the server as agent type `netqos-l3`, one status per router gateway port.

Which routers: those whose gateway port is bound to this host (binding:host_id, set by an
admin as Neutron's L3 scheduler does). A qrouter- namespace of an unbound router is left
alone, so several agents (or a Neutron L3 agent) can share a machine. netqos removes its
state from a router that it managed in this process's lifetime and that is no longer bound
here; a router unbound while the agent was down keeps its leftovers until its namespace
goes (Neutron's L3 agent deletes it with the router).

Per change set: one `tc -batch` per router namespace, and an `ip -batch` before it (IFB
create) or after it (IFB delete) only when the IFB comes or goes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from netqos.agent.backends import driver
from netqos.agent.backends.base import ApplyResult, RouterBackend, Watcher
from netqos.agent.backends.changes import Action, Change
from netqos.agent.l3 import discover
from netqos.agent.l3.model import RouterQos
from netqos.agent.l3.observe import RouterState, observe
from netqos.agent.l3.plan import P_TREE, RouterPlanner, Work, converged_memo
from netqos.agent.l3.spec import router_spec
from netqos.agent.tc.plan import Cmd
from netqos.agent.tc.runner import Runner
from netqos.agent.quiet import OwnEvents
from netqos.qos.backends import L3_FIP


# router namespace -> what it holds
RouterStates = dict[str, RouterState]


class L3Backend(RouterBackend[RouterStates]):
    support = L3_FIP
    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 runner_factory: Callable[[str], Runner] = Runner):
        # netns and uplink are the port agent's flags: routers bring their own namespaces.
        self.runner_factory = runner_factory
        self._own = OwnEvents()   # the tc events of our own applies are not drift
        self._memo: dict[tuple[str, str], object] = {}
        self._managed: dict[str, tuple[str, str]] = {}   # namespace -> (gw port, device)

    def watcher(self, netns: str | None, on_change: Callable[[], None]) -> Watcher:
        """The agent loop's hook: routers' namespaces, their devices and their tc objects
        changing wake it (a hand edit is repaired by the pass, within a second)."""
        return discover.NamespaceWatcher(netns, on_change, self._own.quiet)

    # ---- what the loop asks instead of the host's ports ----
    def locate(self, routers: Sequence[RouterQos]) -> tuple[list[RouterQos], list[RouterQos]]:
        """(routers whose namespace is here, routers without one)."""
        return discover.present(routers)

    # ---- observe / plan / apply ----
    def observe(self, routers: Sequence[RouterQos]) -> RouterStates:
        """One read per router namespace: the desired ones and those we managed before."""
        targets = {r.namespace: r.gw_device for r in routers}
        alive = discover.namespaces()
        for ns, (_, device) in self._managed.items():
            if ns not in targets and ns in alive:
                targets[ns] = device
        return {ns: observe(self.runner_factory(ns), device)
                for ns, device in sorted(targets.items())}

    def plan(self, desired: Sequence[RouterQos], actual: RouterStates) -> list[Change]:
        changes: list[Change] = []
        wanted = {r.namespace: r for r in desired}
        for ns, state in actual.items():
            router = wanted.get(ns)
            port_id = router.gw_port_id if router else self._managed.get(ns, (ns, ""))[0]
            spec = router_spec(router) if router else None
            changes += RouterPlanner(spec, state, self._memo, port_id).plan()
        return changes

    def sync(self, desired: Sequence[RouterQos]) -> tuple[list[Change], ApplyResult]:
        actual = self.observe(desired)
        changes = self.plan(desired, actual)
        result = self.apply(changes)
        self._managed = {r.namespace: (r.gw_port_id, r.gw_device) for r in desired}
        keep = {r.gw_port_id for r in desired}
        self._memo = {k: v for k, v in self._memo.items() if k[0] in keep}
        for router in desired:
            if router.gw_port_id not in result.errors:
                self._memo.update(converged_memo(router_spec(router)))
        return changes, result

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        namespaces = list(dict.fromkeys(work.namespace for c in changes
                                        if c.action != Action.SKIP
                                        and (work := _work(c)) is not None))
        with self._own.applying(bool(namespaces)):
            return driver.apply(changes, [step for ns in namespaces
                                          for step in self._steps(ns)],
                                driver.remember_payload(self._memo))

    def _steps(self, ns: str) -> list[driver.Step]:
        """A router namespace's batches: `ip` (IFB create), `tc`, `ip` (IFB delete)."""
        runner = self.runner_factory(ns)

        def step(tool: str, phase_ok: Callable[[int], bool]) -> driver.Step:
            def items(change: Change) -> list[Cmd]:
                work = _work(change)
                if work is None or work.namespace != ns:
                    return []
                return [cmd for cmd in work.commands
                        if cmd.tool == tool and phase_ok(cmd.phase)]

            def run(cmds: list[Cmd]) -> dict[int, str]:
                return runner.batch(tool, [c.line for c in cmds]).blame(range(len(cmds)))
            # by phase, then in plan order (a change's own lines keep their order)
            return driver.Step(tool, items, run, key=lambda cmd: cmd.phase)
        return [step("ip", lambda p: p < P_TREE), step("tc", lambda p: True),
                step("ip", lambda p: p >= P_TREE)]

    @property
    def capabilities(self) -> dict[str, bool]:
        return {"l3": True}


def _work(change: Change) -> Work | None:
    """The router namespace's work a change carries (a SKIP carries none)."""
    return change.payload if isinstance(change.payload, Work) else None
