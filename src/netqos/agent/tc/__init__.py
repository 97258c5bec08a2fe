"""The Linux tc + nftables dataplane, in small pieces.

maths    burst, queue and quantum formulas (units in every name and comment)
spec     desired kernel parameters of one port, derived from its rules (pure)
state    what observe reads back from the kernel (plain data)
bpf      the port classifier: an eBPF program + map (tap ifindex -> classid), via bpf(2)
u32      the reader of an older netqos's u32 MAC filters (`tc filter show` text)
nft      the nftables table `netqos`: script builders and the JSON reader
observe  one dump per object kind: links, qdiscs, classes, filters, nft ruleset
plan     desired - actual = changes, each carrying its tc / nft commands (pure)
runner   runs one `tc -batch`, one `nft -f` and one `ip -batch` per change set
probe    what this kernel can do (act_police, IFB, eBPF), tried once on a dummy
watch    wakes the agent when what the backend owns changes (netlink, nft monitor)
"""
