"""What this kernel can do, tried once on a throw-away veth pair in the namespace.

(A veth pair, not a dummy: the dummy module is not there on this project's machines.)

`police`: can tc load act_police (absent on this project's machines: "Failed to load TC
action module"). `ifb`: can we create an IFB device. The backend shapes the VM's egress on
an IFB either way (a shaper queues where a policer drops, so TCP keeps the rate); the probe
result is reported in `capabilities` and an absent IFB refuses egress limits up front.
`bpf`: can we load the port classifier (tc/bpf.py), which egress limits need.
"""
from __future__ import annotations

from netqos.agent.tc import bpf
from netqos.agent.tc.runner import Runner


def probe(runner: Runner) -> dict[str, bool]:
    # Fixed names: a probe killed half-way leaves devices the next probe clears first.
    dummy, ifb = "nqprobe", "nqprobeifb"
    for dev in (dummy, ifb):
        runner.run("ip", "link", "del", dev)
    caps = {"police": False, "ifb": False, "clsact": False, "bpf": bpf.can_load()}
    if runner.run("ip", "link", "add", dummy, "type", "veth", "peer", "name",
                  dummy + "p").returncode != 0:
        return caps
    try:
        caps["clsact"] = runner.run("tc", "qdisc", "add", "dev", dummy,
                                    "clsact").returncode == 0
        caps["police"] = caps["clsact"] and runner.run(
            "tc", "filter", "add", "dev", dummy, "ingress", "protocol", "all", "u32",
            "match", "u32", "0", "0", "action", "police", "rate", "1mbit", "burst", "10k",
            "drop").returncode == 0
    finally:
        runner.run("ip", "link", "del", dummy)
    if runner.run("ip", "link", "add", ifb, "type", "ifb").returncode == 0:
        caps["ifb"] = True
        runner.run("ip", "link", "del", ifb)
    return caps
