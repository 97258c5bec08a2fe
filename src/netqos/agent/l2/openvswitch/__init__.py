"""The Open vSwitch L2 engine, as Neutron's OVS agent wires ports (`--l2 openvswitch`).

names     Neutron's port names: patch-tun/patch-int, int-br-X/phy-br-X, vxlan-<hex ip>
options   OvsL2Options and the command-line options, named as Neutron's
state     what observe reads back: bridges, their ports, our flows' cookies (plain data)
observe   the OVSDB replica (no round trip) and one OpenFlow connection per bridge
flows     the flow tables of br-tun, br-<physnet> and br-int (pure)
vlans     local VLAN allocation, kept in OVSDB on the ports (pure)
plan      desired - actual = changes, each carrying OVSDB ops or flow lines (pure)
ovsdb     the OVSDB edits of a change set, in one transaction
engine    observe, plan, apply (one transaction, one flow bundle per bridge), check, report
watch     OVSDB row events and a flow check that wake the engine
"""
