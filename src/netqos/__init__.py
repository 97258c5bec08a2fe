"""netqos: network Quality-of-Service for VMs and containers on Linux."""

__version__ = "0.1.0"
