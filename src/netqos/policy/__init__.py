"""Neutron's policy engine: its rule names and defaults, enforced with oslo.policy.

defaults.py / defaults_core.py  the rules (names and check strings as Neutron 29 has them)
checks.py                       Neutron's `field:` check
roles.py                        Keystone's default implied roles
engine.py                       PolicyEngine: defaults + an operator's policy.yaml
sample.py                       the defaults as a commented policy.yaml
"""
