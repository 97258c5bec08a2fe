"""Neutron's Linux-bridge L2 role: brq bridges with flat/VLAN/VXLAN uplinks, taps plugged
on netlink events, the vxlan fdb filled from the desired state (l2population)."""
