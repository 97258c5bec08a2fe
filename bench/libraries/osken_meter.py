"""A MeterOp (ovs/openflow.py) encoded by os-ken's OpenFlow 1.3 parser instead of by hand:
what netqos would run if it used os-ken. os-ken is not a dependency; `path` is where it
was installed aside (pip install --target PATH os-ken==4.2.2)."""

import sys


def encoder(path: str):
    """encode(op, xid) -> bytes of the OFPT_METER_MOD, through os-ken."""
    sys.path.append(path)
    from os_ken.ofproto import ofproto_v1_3 as ofp
    from os_ken.ofproto import ofproto_v1_3_parser as parser
    from os_ken.ofproto.ofproto_protocol import ProtocolDesc

    dp = ProtocolDesc(ofp.OFP_VERSION)
    commands = {"add": ofp.OFPMC_ADD, "mod": ofp.OFPMC_MODIFY, "del": ofp.OFPMC_DELETE}

    def encode(op, xid: int) -> bytes:
        unit = ofp.OFPMF_KBPS if op.unit == "kbps" else ofp.OFPMF_PKTPS
        bands = [] if op.command == "del" else [
            parser.OFPMeterBandDrop(rate=op.rate, burst_size=op.burst)]
        msg = parser.OFPMeterMod(dp, command=commands[op.command],
                                 flags=ofp.OFPMF_BURST | ofp.OFPMF_STATS | unit,
                                 meter_id=op.meter_id, bands=bands)
        msg.set_xid(xid)
        msg.serialize()
        return bytes(msg.buf)

    return encode
