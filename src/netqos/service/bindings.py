"""Bindings of policies to ports, networks, floating IPs and router gateways, and the
check that every bound port's backend can enforce what it is given."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session


def check_policy_enforceable(session: Session, policy_id: str, rules: Sequence[dict]) -> None:
    """Raise QosRuleNotSupported if a port using the policy cannot enforce one of `rules`.
    No port can use a policy until ports exist; this check grows with them."""
