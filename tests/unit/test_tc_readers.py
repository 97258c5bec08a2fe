"""Readers of `tc filter show` text and `nft -j -n list ruleset` JSON."""
from netqos.agent.tc import nft, u32
from netqos.agent.tc.spec import PacketLimit

TC_TEXT = """\
filter parent 4e51: protocol all pref 1 u32 chain 0 
filter parent 4e51: protocol all pref 1 u32 chain 0 fh 2: ht divisor 256 
filter parent 4e51: protocol all pref 1 u32 chain 0 fh 2::10 order 16 key ht 2 bkt 0 *flowid 4e51:10 not_in_hw 
  match 02010000/ffffffff at -8
  match 00000000/ffff0000 at -4
filter parent 4e51: protocol all pref 1 u32 chain 0 fh 2:a5:11 order 17 key ht 2 bkt a5 *flowid 4e51:11 not_in_hw 
  match fa163e12/ffffffff at -8
  match 34a50000/ffff0000 at -4
filter parent 4e51: protocol all pref 1 u32 chain 0 fh 800: ht divisor 1 
filter parent 4e51: protocol all pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 link 2: not_in_hw 
  match 00000000/00000000 at 0
    hash mask 00ff0000 at -4 
"""


def test_u32_text_gives_macs_classes_and_hash_table():
    hashed, filters = u32.parse_show(TC_TEXT)
    assert hashed
    assert [(f.mac, f.minor) for f in filters] == [("02:01:00:00:00:00", 0x10),
                                                  ("fa:16:3e:12:34:a5", 0x11)]
    assert u32.same_handle(filters[0].handle, "2:0:10")


def test_u32_without_hash_table():
    hashed, filters = u32.parse_show(TC_TEXT.split("filter parent 4e51: protocol all pref 1 "
                                                   "u32 chain 0 fh 800:")[0])
    assert not hashed and len(filters) == 2


def test_nft_uplink_hook_and_classes_are_read():
    def up_rule(value):
        return _rule(nft.UPLINK_CHAIN, [
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth1"}},
            {"mangle": {"key": {"meta": {"key": "priority"}}, "value": value}}])
    doc = {"nftables": [
        {"table": {"family": "inet", "name": "netqos"}},
        {"map": {"family": "inet", "table": "netqos", "name": nft.UPLINK_MAP,
                 "elem": [["tapa", "4e51:10"], ["tapb", "1:5"]]}},
        {"chain": {"family": "inet", "table": "netqos", "name": nft.UPLINK_CHAIN,
                   "hook": "forward"}},
        up_rule("none"),
        up_rule({"map": {"key": {"meta": {"key": "iifname"}}, "data": "@uplink_class"}}),
    ]}
    fam = nft.parse_ruleset(doc)["inet"]
    assert fam.uplink_hook == "eth1"
    assert fam.uplink_class == {"tapa": 0x10}   # another major is not ours
    doc["nftables"].pop()   # the classifying rule went
    assert nft.parse_ruleset(doc)["inet"].uplink_hook is None


def test_nft_bridge_uplink_hook_is_read_whatever_the_output_device():
    ours = {"match": {"op": "==", "left": {"meta": {"key": "priority"}},
                      "right": {"range": ["4e51:0", "4e51:ffff"]}}}
    reset = {"mangle": {"key": {"meta": {"key": "priority"}}, "value": "none"}}
    classify = {"mangle": {"key": {"meta": {"key": "priority"}}, "value": {
        "map": {"key": {"meta": {"key": "iifname"}}, "data": "@uplink_class"}}}}

    def hook(*rules):
        return {"nftables": [
            {"table": {"family": "bridge", "name": "netqos"}},
            {"chain": {"family": "bridge", "table": "netqos", "name": nft.UPLINK_CHAIN,
                       "hook": "forward"}},
            *({"rule": {"family": "bridge", "table": "netqos", "chain": nft.UPLINK_CHAIN,
                        "expr": r}} for r in rules)]}

    def read(*rules):
        return nft.parse_ruleset(hook(*rules))["bridge"].uplink_hook

    assert read([ours, reset], [classify]) == nft.ANY_DEVICE
    assert read([ours, reset], [classify]) == nft.uplink_hook_of("bridge", "eth0")
    assert read([reset], [classify]) is None               # resets every priority: not ours
    assert read([ours, reset]) is None                     # the classifying rule went
    other = {"match": {**ours["match"], "right": {"range": ["1:0", "1:ffff"]}}}
    assert read([other, reset], [classify]) is None


def _rule(chain: str, expr: list) -> dict:
    return {"rule": {"family": "inet", "table": "netqos", "chain": chain, "expr": expr}}


def test_nft_ruleset_reader():
    out = nft.chain_name("p1", "egress")
    doc = {"nftables": [
        {"table": {"family": "inet", "name": "netqos"}},
        {"map": {"family": "inet", "table": "netqos", "name": "from_vm",
                 "elem": [["tapp1", {"jump": {"target": out}}]]}},
        {"map": {"family": "inet", "table": "netqos", "name": "to_vm"}},
        {"chain": {"family": "inet", "table": "netqos", "name": "from_vm_hook",
                   "hook": "prerouting"}},
        {"chain": {"family": "inet", "table": "netqos", "name": "to_vm_hook",
                   "hook": "postrouting"}},
        {"chain": {"family": "inet", "table": "netqos", "name": out}},
        _rule("from_vm_hook", [{"vmap": {"key": {"meta": {"key": "iifname"}},
                                         "data": "@from_vm"}}]),
        _rule("to_vm_hook", [{"vmap": {"key": {"meta": {"key": "oifname"}},
                                       "data": "@to_vm"}}]),
        _rule(out, [{"limit": {"rate": 1000, "burst": 10, "per": "second", "inv": True}},
                    {"drop": None}]),
        _rule(out, [{"mangle": {"key": {"payload": {"protocol": "ip", "field": "dscp"}},
                                "value": 46}}]),
        _rule(out, [{"mangle": {"key": {"payload": {"protocol": "ip6", "field": "dscp"}},
                                "value": 46}}]),
        {"table": {"family": "ip", "name": "someone-else"}},
    ]}
    state = nft.parse_ruleset(doc)
    inet = state["inet"]
    assert inet.present and inet.hooks_ok
    assert inet.from_vm == {"tapp1": out}
    chain = inet.chains[out]
    assert chain.limit == PacketLimit(1000, 10) and chain.dscp4 == chain.dscp6 == 46
    assert chain.other_rules == 0
    assert not state["bridge"].present


def test_nft_chain_names_round_trip():
    assert nft.port_of_chain(nft.chain_name("abc-1", "ingress")) == ("abc-1", "ingress")
    assert nft.port_of_chain("from_vm_hook") is None
