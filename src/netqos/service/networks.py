"""Networks: the minimum QoS needs, with Neutron's shapes and binding rules."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import Network, Port, QosPolicyDefault, RbacEntry
from netqos.qos.attributes import ABSENT, Boolean, IntRange, Schema, String, Uuid
from netqos.qos.errors import Conflict, NotFound
from netqos.service import bindings, changes, common, resources, views
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
    IntRange("mtu", default=1500, minimum=68, maximum=65535),
    Uuid("qos_policy_id", default=ABSENT, nullable=True),
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
    shared = repo.shared_ids(txn.session, OBJECT_TYPE, ids)
    tags = repo.tags_by_id(txn.session, ids)
    return [views.network_view(n, n.id in shared, tags.get(n.id, [])) for n in nets]


def list_networks(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_network(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.pop_owner(txn.ctx, values, "network")
    common.enforce_attributes(txn.ctx, "create_network", values, {"project_id": project_id},
                              ADMIN_ATTRIBUTES)
    policy_id = values["qos_policy_id"]
    if policy_id is ABSENT:
        policy_id = _project_default_policy(txn, project_id)
    common.check_policy_change(txn, None, policy_id)
    net = Network(id=str(uuid.uuid4()), project_id=project_id, name=values["name"],
                  description=values["description"], admin_state_up=values["admin_state_up"],
                  router_external=values["router:external"], mtu=values["mtu"],
                  qos_policy_id=policy_id, revision_number=1)
    txn.session.add(net)
    txn.session.flush()
    if values["shared"]:
        _share(txn, net)
    return view(txn, net)


# Attributes only Neutron's admin rules let a caller set (create_network:shared, ...).
ADMIN_ATTRIBUTES = ("shared", "router:external")


def _project_default_policy(txn: Txn, project_id: str) -> str | None:
    """A network created without qos_policy_id gets its project's default policy."""
    return txn.session.scalar(select(QosPolicyDefault.qos_policy_id)
                              .where(QosPolicyDefault.project_id == project_id))


def update_network(txn: Txn, net_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    net = resources.find_owned(txn, KIND, net_id)
    common.check_revision(net, if_match)
    common.enforce_attributes(txn.ctx, "update_network", values,
                              resources.target_of(net), ("router:external",))
    for attr in ("name", "description", "admin_state_up", "mtu"):
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
        common.check_policy_change(txn, net.qos_policy_id, values["qos_policy_id"])
        net.qos_policy_id = values["qos_policy_id"]
    repo.bump_revision(net)
    txn.session.flush()
    if policy_changed:
        ports = _ports_of(txn, net.id)
        bindings.check_ports(txn.session, ports)
        changes.touch(txn, "network", net.id, ports)
    return view(txn, net)


def _ports_of(txn: Txn, net_id: str) -> list[Port]:
    return list(txn.session.scalars(select(Port).options(selectinload(Port.network))
                                    .where(Port.network_id == net_id)))


def delete_network(txn: Txn, net_id: str) -> None:
    net = resources.find_owned(txn, KIND, net_id, "delete_network")
    if _ports_of(txn, net.id):
        raise NetworkInUse(net_id=net.id)
    txn.session.execute(delete(RbacEntry).where(RbacEntry.object_type == OBJECT_TYPE,
                                                RbacEntry.object_id == net.id))
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
