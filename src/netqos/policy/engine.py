"""PolicyEngine: Neutron's rule defaults, overridden by an operator's policy.yaml, enforced
with oslo.policy against the caller's identity. One per server; every auth mode uses it."""
from __future__ import annotations

import functools
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

    def allowed(self, creds: Mapping, rule: str, target: Mapping) -> bool:
        return bool(self.enforcer.enforce(rule, dict(target), dict(creds)))


@functools.cache
def defaults_only() -> PolicyEngine:
    """The engine of identities made outside a server (Context.admin(), tests)."""
    return PolicyEngine()
