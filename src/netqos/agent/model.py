"""The agent's name for what it is told to enforce on one port; the type itself lives in
netqos.wire (shared with the server). Kept so that `from netqos.agent.model import PortQos`
goes on working while other branches still use it."""
from netqos.wire import PortQos

__all__ = ["PortQos"]
