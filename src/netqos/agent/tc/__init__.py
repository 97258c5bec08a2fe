"""The Linux tc + nftables dataplane, in small pieces.

maths    burst, queue and quantum formulas (units in every name and comment)
spec     desired kernel parameters of one port, derived from its rules (pure)
state    what observe reads back from the kernel (plain data)
u32      u32 filter commands and the parser of `tc filter show` text
nft      the nftables table `netqos`: script builders and the JSON reader
observe  one dump per object kind: links, qdiscs, classes, filters, nft ruleset
plan     desired - actual = changes, each carrying its tc / nft commands (pure)
runner   runs one `tc -batch`, one `nft -f` and one `ip -batch` per change set
probe    what this kernel can do (act_police, IFB), tried once on a dummy
"""
