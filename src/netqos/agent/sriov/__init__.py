"""SR-IOV: VF rate limits set on the PF through netlink. See backends/sriov.py."""
