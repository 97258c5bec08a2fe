"""PolicyEngine: Neutron's rule defaults, overridden by an operator's policy.yaml, enforced
with oslo.policy against the caller's identity. One per server; every auth mode uses it."""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

from oslo_config import cfg
from oslo_policy import policy

from netqos.policy import checks  # noqa: F401  (registers the `field:` check)
from netqos.policy.defaults import AGENTS, BASE, QOS, QOS_RULES, RBAC
from netqos.policy.defaults_core import FLOATINGIP, NETWORK, PORT, ROUTER, SUBNET


def all_defaults() -> list:
    return [*BASE, *QOS, *QOS_RULES, *RBAC, *NETWORK, *SUBNET, *PORT, *ROUTER, *FLOATINGIP,
            *AGENTS]


class PolicyEngine:
    def __init__(self, policy_file: str | None = None):
        # A private ConfigOpts: netqos's settings are not oslo.config's, and no
        # /etc/<project>/ file may leak in.
        if policy_file and not Path(policy_file).is_file():
            raise ValueError(f"policy file {policy_file} does not exist")
        conf = cfg.ConfigOpts()
        conf([], project="netqos", default_config_files=[], default_config_dirs=[])
        self.policy_file = policy_file
        self.enforcer = policy.Enforcer(conf, policy_file=policy_file)
        self.enforcer.register_defaults(all_defaults())
        # Read the operator's file now, so a broken one stops the server at start; oslo.policy
        # reloads it later whenever it changes on disk.
        self.enforcer.load_rules()
        self._file_state = self._stat()
        self._decisions: dict = {}

    def allowed(self, creds: Mapping, rule: str, target: Mapping) -> bool:
        """oslo.policy's decision, remembered: a request meets the same few (caller, rule,
        target) triples again and again, and each evaluation costs a check of the policy
        file and a walk of the rule's checks (measured: a fifth of the CPU of creating a
        rule). The memory is dropped whenever the policy file changes on disk."""
        state = self._stat()
        if state != self._file_state:
            self.enforcer.load_rules()
            self._file_state = state
            self._decisions.clear()
        try:
            key = (rule, _frozen(creds), _frozen(target))
            hash(key)
        except TypeError:   # an unhashable value in the target: decide afresh
            return bool(self.enforcer.enforce(rule, dict(target), dict(creds)))
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            decision = bool(self.enforcer.enforce(rule, dict(target), dict(creds)))
            self._decisions[key] = decision
        return decision

    def _stat(self) -> tuple | None:
        """What tells that the operator's policy file changed (as oslo.policy reloads it)."""
        if not self.policy_file:
            return None
        try:
            st = os.stat(self.policy_file)
        except OSError:
            return ("missing",)
        return st.st_mtime_ns, st.st_size, st.st_ino


MAX_DECISIONS = 4096   # distinct (rule, caller, target) decisions kept before starting over


def _frozen(values: Mapping) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in values.items()))


@functools.cache
def defaults_only() -> PolicyEngine:
    """The engine of identities made outside a server (Context.admin(), tests)."""
    return PolicyEngine()
