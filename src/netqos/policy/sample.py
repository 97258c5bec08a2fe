"""The defaults as a policy.yaml whose every rule is commented out, in the layout of
oslopolicy-sample-generator: an operator copies it and uncomments what to change."""
from __future__ import annotations

import json

from netqos.policy.engine import all_defaults


def _entry(rule) -> str:
    lines = [f"# {line}" if line else "#" for line in rule.description.strip().splitlines()]
    for op in getattr(rule, "operations", None) or []:
        lines.append(f"# {op['method']}  {op['path']}")
    lines.append(f"#{json.dumps(rule.name)}: {json.dumps(rule.check_str)}")
    return "\n".join(lines) + "\n"


def sample_yaml() -> str:
    return "\n".join(_entry(rule) for rule in all_defaults())
