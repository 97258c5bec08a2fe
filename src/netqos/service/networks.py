"""Networks: the minimum QoS needs, with Neutron's shapes and binding rules."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import Network, Port, QosPolicyDefault, RbacEntry
from netqos.qos.attributes import ABSENT, Boolean, IntRange, Schema, String, Uuid
from netqos.qos.errors import Conflict, InvalidInput, NotFound
from netqos.qos.netattrs import PhysicalNetwork
from netqos.service import bindings, changes, common, policies, resources, segments, views
from netqos.service.segment_pools import Segment
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

OBJECT_TYPE = "network"


class NetworkNotFound(NotFound):
    message = "Network %(net_id)s could not be found."


class NetworkInUse(Conflict):
    message = ("Unable to complete operation on network %(net_id)s. There are one or more "
               "ports still in use on the network.")


SCHEMA = Schema("network", (
    String("name", default=""),
    String("description", default=""),
    Boolean("admin_state_up", default=True),
    Boolean("shared", default=False),
    Boolean("router:external", default=False),
    IntRange("mtu", default=ABSENT, minimum=68, maximum=65535),
    Uuid("qos_policy_id", default=ABSENT, nullable=True),
    String("provider:network_type", default=ABSENT, max_length=16),
    PhysicalNetwork("provider:physical_network", default=ABSENT, nullable=True),
    IntRange("provider:segmentation_id", default=ABSENT, nullable=True,
             maximum=2**32 - 1),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "status", "subnets", "tags", "revision_number", "created_at",
                        "updated_at", "availability_zones", "availability_zone_hints",
                        "port_security_enabled", "ipv4_address_scope",
                        "ipv6_address_scope", "is_default", "qos_network_policy_id"}))

_shared = repo.rbac_grants(OBJECT_TYPE, Network.id, None)
KIND = resources.Kind(
    "network", Network,
    attrs={**resources.standard_attrs(Network),
           "admin_state_up": Attr(Network.admin_state_up, Boolean("admin_state_up").convert),
           "router:external": Attr(Network.router_external,
                                   Boolean("router:external").convert),
           "shared": Attr(_shared, Boolean("shared").convert, sortable=False),
           "qos_policy_id": Attr(Network.qos_policy_id),
           "mtu": Attr(Network.mtu, IntRange("mtu").convert),
           "provider:network_type": Attr(Network.network_type),
           "provider:physical_network": Attr(Network.physical_network),
           "provider:segmentation_id": Attr(Network.segmentation_id,
                                            IntRange("provider:segmentation_id").convert),
           "status": Attr(Network.id, filterable=False, sortable=False)},
    not_found=lambda net_id: NetworkNotFound(net_id=net_id),
    rbac_type=OBJECT_TYPE,
    visible_to_all=lambda model: model.router_external.is_(True),
    load=(selectinload(Network.subnets),))


def find(txn: Txn, net_id: str) -> Network:
    return resources.find(txn, KIND, net_id)


def view(txn: Txn, net: Network) -> dict:
    return render(txn, [net])[0]


def render(txn: Txn, nets: list[Network]) -> list[dict]:
    ids = [n.id for n in nets]
    shared = repo.shared_ids(txn.session, OBJECT_TYPE, ids, viewer=txn.ctx.project_id)
    tags = repo.tags_by_id(txn.session, ids)
    # Provider attributes are an admin's to see, as in Neutron.
    provider = txn.ctx.is_admin
    return [views.network_view(n, n.id in shared, tags.get(n.id, []), provider) for n in nets]


def list_networks(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_network(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.pop_owner(txn.ctx, values, "network")
    _admin_only(txn, "create_network", values, ("shared", "router:external", *PROVIDER),
                {"project_id": project_id, "tenant_id": project_id})
    wanted = _provider_request(txn, values)
    policy_id = values["qos_policy_id"]
    if policy_id is ABSENT:
        policy_id = _project_default_policy(txn, project_id)
    policies.check_attach(txn, None, policy_id)
    net = Network(id=str(uuid.uuid4()), project_id=project_id, name=values["name"],
                  description=values["description"], admin_state_up=values["admin_state_up"],
                  router_external=values["router:external"], mtu=1500,
                  qos_policy_id=policy_id, revision_number=1)
    txn.session.add(net)
    txn.session.flush()
    segment = segments.allocate(txn, txn.pools, net, wanted)
    net.mtu = _mtu(txn, segment, values["mtu"])
    txn.session.flush()
    if values["shared"]:
        _share(txn, net)
    # Neutron shows is_default (of auto-allocated topologies) in a create's answer only.
    return {**view(txn, net), "is_default": False}


PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")


def _admin_only(txn: Txn, action: str, values: dict, names: tuple[str, ...],
                target: dict) -> None:
    """Attributes with a rule of their own (<action>:<name>, admin by default): any
    provider attribute given at all, and shared or router:external set true."""
    for name in names:
        given = values.get(name, ABSENT)
        if name in PROVIDER and given is not ABSENT or given is True:
            txn.ctx.enforce(f"{action}:{name}", target)


def _provider_request(txn: Txn, values: dict) -> Segment | None:
    """The segment an admin asked for, checked against the pools; None: a tenant one."""
    asked = {k: values[k] for k in PROVIDER if values[k] is not ABSENT}
    if not asked:
        return None
    if asked.get("provider:network_type") is None:
        raise InvalidInput(error_message="network_type required")
    segment = Segment(asked["provider:network_type"], asked.get("provider:physical_network"),
                      asked.get("provider:segmentation_id"))
    txn.pools.check_provider(segment)
    return segment


def _mtu(txn: Txn, segment: Segment, requested) -> int:
    """The segment's MTU, or a smaller one the client asked for."""
    largest = txn.pools.mtu(segment)
    if requested is ABSENT:
        return largest
    if requested > largest:
        raise InvalidInput(error_message=f"Requested MTU is too big, maximum is {largest}")
    return requested


def _project_default_policy(txn: Txn, project_id: str) -> str | None:
    """A network created without qos_policy_id gets its project's default policy."""
    return txn.session.scalar(select(QosPolicyDefault.qos_policy_id)
                              .where(QosPolicyDefault.project_id == project_id))


def update_network(txn: Txn, net_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    net = resources.find_owned(txn, KIND, net_id)
    common.check_revision(net, if_match)
    _admin_only(txn, "update_network", values, ("router:external", *PROVIDER),
                resources.target_of(net))
    _refuse_segment_change(net, values)
    if "mtu" in values:
        net.mtu = _mtu(txn, _segment_of(net), values["mtu"])
    for attr in ("name", "description", "admin_state_up"):
        if attr in values:
            setattr(net, attr, values[attr])
    if "router:external" in values:
        net.router_external = values["router:external"]
    if values.get("shared") is True:
        _share(txn, net)
    elif values.get("shared") is False:
        _unshare(txn, net)
    policy_changed = "qos_policy_id" in values and values["qos_policy_id"] != net.qos_policy_id
    if policy_changed:
        policies.check_attach(txn, net.qos_policy_id, values["qos_policy_id"])
        net.qos_policy_id = values["qos_policy_id"]
    repo.bump_revision(net)
    txn.session.flush()
    if policy_changed or "mtu" in values:   # the MTU is in the hosts' "l2" blocks
        ports = _ports_of(txn, net.id)
        bindings.check_ports(txn.session, ports)
        changes.touch(txn, "network", net.id, ports)
    return view(txn, net)


def _segment_of(net: Network) -> Segment:
    return Segment(net.network_type, net.physical_network, net.segmentation_id)


def _refuse_segment_change(net: Network, values: dict) -> None:
    current = dict(zip(PROVIDER, (net.network_type, net.physical_network,
                                  net.segmentation_id)))
    if any(values[k] != current[k] for k in PROVIDER if k in values):
        raise InvalidInput(error_message="Plugin does not support updating provider "
                           "attributes")


def _ports_of(txn: Txn, net_id: str) -> list[Port]:
    return list(txn.session.scalars(select(Port).options(selectinload(Port.network))
                                    .where(Port.network_id == net_id)))


def delete_network(txn: Txn, net_id: str) -> None:
    net = resources.find_owned(txn, KIND, net_id, "delete_network")
    if _ports_of(txn, net.id):
        raise NetworkInUse(net_id=net.id)
    txn.session.execute(delete(RbacEntry).where(RbacEntry.object_type == OBJECT_TYPE,
                                                RbacEntry.object_id == net.id))
    segments.release(txn, net.id)
    repo.untag(txn.session, net.id)
    txn.session.delete(net)
    txn.session.flush()


def _share(txn: Txn, net: Network) -> None:
    if net.id not in repo.shared_ids(txn.session, OBJECT_TYPE, [net.id]):
        txn.session.add(RbacEntry(id=str(uuid.uuid4()), project_id=net.project_id,
                                  object_type=OBJECT_TYPE, object_id=net.id,
                                  action=repo.SHARED, target_project=repo.EVERYONE))


def _unshare(txn: Txn, net: Network) -> None:
    foreign = txn.session.scalar(select(Port.id).where(Port.network_id == net.id,
                                                       Port.project_id != net.project_id,
                                                       Port.project_id != "").limit(1))
    if foreign is not None:
        raise NetworkInUse(net_id=net.id)
    txn.session.execute(delete(RbacEntry).where(
        RbacEntry.object_type == OBJECT_TYPE, RbacEntry.object_id == net.id,
        RbacEntry.target_project == repo.EVERYONE))
