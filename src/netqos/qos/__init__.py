"""The QoS domain: rule types, validation, conflicts, effective policy, backend support.

Nothing in this package knows about HTTP, SQL or the kernel.
"""
