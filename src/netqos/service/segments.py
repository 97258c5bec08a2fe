"""Allocating a network's segment: the one an admin asked for, or a free one from the
tenant pools. The allocation row's primary key is the arbiter between concurrent creates:
a loser's insert fails inside its savepoint and it takes the next free id.
"""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from netqos.db.models import Network, SegmentAllocation
from netqos.qos.errors import Conflict, ServiceUnavailable
from netqos.service.segment_pools import TUNNEL_TYPES, Segment, SegmentPools
from netqos.service.txn import Txn

ATTEMPTS = 64   # concurrent creates that may beat one request to a free id


class NoNetworkAvailable(ServiceUnavailable):
    """Neutron answers 503: the pools are exhausted (or none is configured)."""

    message = ("Unable to create the network. No tenant network is available for "
               "allocation.")


class FlatNetworkInUse(Conflict):
    message = ("Unable to create the flat network. Physical network %(physical_network)s "
               "is in use.")


class VlanIdInUse(Conflict):
    message = ("Unable to create the network. The VLAN %(vlan_id)s on physical network "
               "%(physical_network)s is in use.")


class TunnelIdInUse(Conflict):
    message = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


def allocate(txn: Txn, pools: SegmentPools, net: Network, wanted: Segment | None) -> Segment:
    """Give `net` its segment (flushed with it) and return it."""
    if wanted is None:
        segment = _tenant_segment(txn, pools, net.id)
    elif wanted.network_type == "vlan" and wanted.segmentation_id is None:
        segment = _from_vlan_pools(txn, pools, net.id, only=wanted.physical_network)
        if segment is None:
            raise NoNetworkAvailable()
    elif wanted.network_type in TUNNEL_TYPES and wanted.segmentation_id is None:
        # A partial tunnel segment, as Neutron's tunnel type drivers take it: any free id
        # of that type's tenant ranges.
        segment = _first_free(txn, net.id, wanted.network_type, None,
                              pools.tunnel_ranges(wanted.network_type))
        if segment is None:
            raise NoNetworkAvailable()
    else:
        segment = wanted
        if not _claim(txn, net.id, segment):
            raise _in_use(segment)
    net.network_type = segment.network_type
    net.physical_network = segment.physical_network
    net.segmentation_id = segment.segmentation_id
    return segment


def release(txn: Txn, net_id: str) -> None:
    txn.session.execute(delete(SegmentAllocation).where(SegmentAllocation.network_id == net_id))


def _tenant_segment(txn: Txn, pools: SegmentPools, net_id: str) -> Segment:
    for network_type in pools.tenant_network_types:
        if network_type == "local":
            return Segment("local")
        if network_type in TUNNEL_TYPES:
            found = _first_free(txn, net_id, network_type, None,
                                pools.tunnel_ranges(network_type))
        elif network_type == "vlan":
            found = _from_vlan_pools(txn, pools, net_id)
        else:
            found = None  # flat networks are never a tenant's
        if found is not None:
            return found
    raise NoNetworkAvailable()


def _from_vlan_pools(txn: Txn, pools: SegmentPools, net_id: str,
                     only: str | None = None) -> Segment | None:
    for physnet, ranges in pools.vlan_ranges.items():
        if only is None or physnet == only:
            found = _first_free(txn, net_id, "vlan", physnet, ranges)
            if found is not None:
                return found
    return None


def _first_free(txn: Txn, net_id: str, network_type: str, physnet: str | None,
                ranges) -> Segment | None:
    """The lowest id of `ranges` no network holds, claimed for `net_id`."""
    taken = set(txn.session.scalars(select(SegmentAllocation.segmentation_id).where(
        SegmentAllocation.network_type == network_type,
        SegmentAllocation.physical_network == (physnet or ""))))
    attempts = 0
    for first, last in ranges:
        seg_id = first
        while seg_id <= last and attempts < ATTEMPTS:
            if seg_id not in taken:
                segment = Segment(network_type, physnet, seg_id)
                if _claim(txn, net_id, segment):
                    return segment
                attempts += 1   # a concurrent create took it first: try the next one
            seg_id += 1
    return None


def _claim(txn: Txn, net_id: str, segment: Segment) -> bool:
    """Insert the allocation row; False if another network holds the segment."""
    if segment.network_type == "local":
        return True
    row = SegmentAllocation(network_type=segment.network_type,
                            physical_network=segment.physical_network or "",
                            segmentation_id=segment.segmentation_id or 0, network_id=net_id)
    try:
        with txn.session.begin_nested():
            txn.session.add(row)
            txn.session.flush()
    except IntegrityError:
        return False
    return True


def _in_use(segment: Segment) -> Conflict:
    if segment.network_type == "flat":
        return FlatNetworkInUse(physical_network=segment.physical_network)
    if segment.network_type == "vlan":
        return VlanIdInUse(vlan_id=segment.segmentation_id,
                           physical_network=segment.physical_network)
    return TunnelIdInUse(tunnel_id=segment.segmentation_id)
