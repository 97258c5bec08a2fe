"""Agent backends are found by entry point (group `netqos.backends`), as os-vif finds its
plug-ins: a deployment can add one without touching netqos."""
from __future__ import annotations

from importlib.metadata import entry_points

GROUP = "netqos.backends"


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load(name: str) -> type:
    """The backend class registered under `name`."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            cls: type = ep.load()
            return cls
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(available()) or 'none'}")
