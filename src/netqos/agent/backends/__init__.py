"""Agent backends: each its own module, registered by entry point (group netqos.backends)."""
