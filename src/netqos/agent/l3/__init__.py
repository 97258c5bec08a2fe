"""The agent's L3 role: bandwidth limits of floating IPs and router gateways, enforced on
the router's external gateway device on the network node.

Where: a router lives in namespace `qrouter-<router_id>` with gateway device
`qg-<gw_port_id[:11]>` (Neutron's names). The routers are those whose gateway port is bound
to this host (GET /v2.0/netqos/hosts/{host}/routers).

How (per router namespace, tc only; this kernel has no act_police, so both directions shape):
- egress (traffic leaving through the gateway): HTB root 4e51: on qg-, `default 0` so that
  unclassified traffic passes unshaped; one class per floating IP (source = the floating IP:
  SNAT runs in POSTROUTING, before the qdisc) and one for the gateway (source = a gateway
  IP: the router's SNAT traffic), each with a short bfifo leaf.
- ingress (traffic arriving at the gateway): clsact on qg- redirects everything to the IFB
  `nq-l3-ifb` of the namespace (tc ingress runs before PREROUTING, so the destination is
  still the floating IP), where the same HTB layout classifies by destination.
- classification: u32 on the address, hashed on its last byte (table 1: IPv4, 6: IPv6),
  so a packet costs a few compares whatever the number of floating IPs.

Every router's change set is one `ip -batch` (IFB create/delete, when needed) and one
`tc -batch`; see plan.py for the order of lines.
"""
