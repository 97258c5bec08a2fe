"""The agent's L2 role: plug ports into their networks (linuxbridge here; see model.py for
the desired state the server hands over)."""
