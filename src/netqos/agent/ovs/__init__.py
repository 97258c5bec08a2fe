"""The Open vSwitch dataplane, in small pieces (the backend is netqos.agent.backends.ovs).

spec      desired OVS parameters of one port, derived from its rules (pure)
state     what observe reads back from OVSDB and the switch (plain data)
ovsdb     OVSDB through ovsdbapp: snapshot, one transaction per change set, row events
openflow  OpenFlow: meters and flow cookies over the bridge's management socket (batched,
          no subprocess), flow changes through one `ovs-ofctl --bundle add-flows`
flows     the flow pipeline netqos owns (tables, priorities, cookies)
plan      desired - actual = changes, each carrying its OVSDB / meter / flow operations
lab       namespace "VMs" plugged into a bridge, for tests and the benchmark
"""
