"""Resource dicts in Neutron's JSON shapes, built from database rows."""
from __future__ import annotations

from datetime import datetime

from netqos.db.models import QosPolicy, QosRule
from netqos.qos.rules import RULE_TYPES


def timestamp(value: datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is None:   # as stored: isoformat is several times cheaper than strftime
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# Each rule type's value fields, computed once: a list of 500 policies asks for them
# 500 times.
_FIELDS = {name: rule_type.field_names for name, rule_type in RULE_TYPES.items()}


def rule_values(rule: QosRule) -> dict:
    """id, type and the rule type's own fields: the domain's view of a stored rule (a
    QosRule or a plain row of its table)."""
    values = {f: getattr(rule, f) for f in _FIELDS[rule.type]}
    return {"id": rule.id, "type": rule.type, **values}


def rule_view(rule: QosRule) -> dict:
    """GET .../bandwidth_limit_rules/{id}: the id and the type's fields."""
    view = rule_values(rule)
    del view["type"]
    return view


def rule_in_policy_view(rule: QosRule) -> dict:
    """A rule inside a policy's `rules`: with its type and policy, as Neutron shows it."""
    return {**rule_values(rule), "qos_policy_id": rule.qos_policy_id}


def policy_view(policy: QosPolicy, shared: bool, tags: list[str], rules: list[dict],
                is_default: bool) -> dict:
    """`policy`: a QosPolicy or a plain row of its table; `rules` as rule_in_policy_view
    shows them."""
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "shared": shared,
        "is_default": is_default,
        "project_id": policy.project_id,
        "tenant_id": policy.project_id,
        "rules": rules,
        "tags": sorted(tags),
        "revision_number": policy.revision_number,
        "created_at": timestamp(policy.created_at),
        "updated_at": timestamp(policy.updated_at),
    }


def only_fields(view: dict, fields: tuple[str, ...]) -> dict:
    return {k: v for k, v in view.items() if k in fields} if fields else view


def _standard(obj, tags: list[str]) -> dict:
    return {"tags": sorted(tags), "revision_number": obj.revision_number,
            "created_at": timestamp(obj.created_at), "updated_at": timestamp(obj.updated_at)}


def network_view(net, shared: bool, tags: list[str], provider: bool = False) -> dict:
    """`provider`: show the segment (an admin's view)."""
    view = {
        "id": net.id, "name": net.name, "description": net.description,
        "project_id": net.project_id, "tenant_id": net.project_id,
        "admin_state_up": net.admin_state_up, "status": "ACTIVE", "shared": shared,
        "router:external": net.router_external, "mtu": net.mtu,
        "subnets": [s.id for s in net.subnets], "qos_policy_id": net.qos_policy_id,
        "availability_zones": [], "availability_zone_hints": [],
        "ipv4_address_scope": None, "ipv6_address_scope": None,
        "port_security_enabled": True,
        **_standard(net, tags),
    }
    if provider:
        view.update(segment_view(net))
    return view


def segment_view(net) -> dict:
    return {"provider:network_type": net.network_type,
            "provider:physical_network": net.physical_network,
            "provider:segmentation_id": net.segmentation_id}


def subnet_view(subnet, tags: list[str]) -> dict:
    return {
        "id": subnet.id, "name": subnet.name, "description": subnet.description,
        "project_id": subnet.project_id, "tenant_id": subnet.project_id,
        "network_id": subnet.network_id, "ip_version": subnet.ip_version,
        "cidr": subnet.cidr, "gateway_ip": subnet.gateway_ip,
        "allocation_pools": subnet.allocation_pools, "enable_dhcp": subnet.enable_dhcp,
        "dns_nameservers": [], "host_routes": [], "ipv6_ra_mode": None,
        "ipv6_address_mode": None, "subnetpool_id": None, "service_types": [],
        "router:external": subnet.network.router_external,
        **_standard(subnet, tags),
    }


AGENT_DOWN = "AGENT_DOWN"


def port_view(port, vif_type: str, tags: list[str], agent_alive: bool | None = None) -> dict:
    """`agent_alive`: False when the port's host has an agent that stopped heartbeating;
    the port then shows status DOWN and netqos:qos_state.status AGENT_DOWN."""
    agent_down = port.host and agent_alive is False
    return {
        "id": port.id, "name": port.name, "description": port.description,
        "project_id": port.project_id, "tenant_id": port.project_id,
        "network_id": port.network_id, "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": "DOWN" if agent_down else port_status(port),
        "device_owner": port.device_owner, "device_id": port.device_id,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                      for a in port.fixed_ips],
        "binding:host_id": port.host, "binding:vnic_type": port.vnic_type,
        "binding:profile": port.profile or {}, "binding:vif_type": vif_type,
        "binding:vif_details": {},
        "qos_policy_id": port.qos_policy_id,
        "qos_network_policy_id": port.network.qos_policy_id,
        "security_groups": [], "allowed_address_pairs": [], "extra_dhcp_opts": [],
        "port_security_enabled": True,
        "netqos:qos_state": {
            "desired_revision": port.qos_revision,
            "applied_revision": port.qos_applied_revision,
            "status": AGENT_DOWN if agent_down else port.qos_status,
            "reason": (f"the agent of host {port.host} stopped reporting; last reported "
                       f"status {port.qos_status}: {port.qos_status_reason}".rstrip(": ")
                       if agent_down else port.qos_status_reason),
            "drift_repaired": port.qos_drift or [],
            "drift_repaired_at": timestamp(port.qos_drift_at),
        },
        **_standard(port, tags),
    }


def port_status(port) -> str:
    """DOWN until bound and reported, and while administratively down (as Neutron shows
    it; the agent holds its link down); BUILD while its agent is behind the desired
    revision; then what the agent reported (ACTIVE or ERROR)."""
    if not port.host or port.qos_applied_revision is None:
        return "DOWN"
    if port.qos_applied_revision < port.qos_revision:
        return "BUILD"
    if not port.admin_state_up and port.qos_status == "ACTIVE":
        return "DOWN"
    return port.qos_status or "DOWN"


def router_view(router, gw_ips: list[dict], tags: list[str], admin: bool = False) -> dict:
    """As Neutron shows a router: the gateway's qos_policy_id only when it has one,
    `distributed` and `ha` to admins only."""
    gateway = None
    if router.gw_port_id:
        gateway = {"network_id": router.gw_port.network_id, "enable_snat": router.enable_snat,
                   "external_fixed_ips": gw_ips}
        if router.gw_qos_policy_id is not None:
            gateway["qos_policy_id"] = router.gw_qos_policy_id
    view = {
        "id": router.id, "name": router.name, "description": router.description,
        "project_id": router.project_id, "tenant_id": router.project_id,
        "admin_state_up": router.admin_state_up, "status": "ACTIVE",
        "external_gateway_info": gateway, "routes": [],
        "availability_zones": [], "availability_zone_hints": [], "flavor_id": None,
        **_standard(router, tags),
    }
    if admin:
        view.update(distributed=False, ha=False)
    return view


def port_details(port) -> dict | None:
    if port is None:
        return None
    return {"name": port.name, "network_id": port.network_id, "mac_address": port.mac_address,
            "admin_state_up": port.admin_state_up, "status": port_status(port),
            "device_id": port.device_id, "device_owner": port.device_owner}


def floatingip_view(fip, network_policy_id: str | None, tags: list[str]) -> dict:
    return {
        "id": fip.id, "description": fip.description,
        "project_id": fip.project_id, "tenant_id": fip.project_id,
        "floating_network_id": fip.floating_network_id,
        "floating_ip_address": fip.floating_ip_address, "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip_address, "router_id": fip.router_id,
        "status": "ACTIVE" if fip.port_id else "DOWN",
        "qos_policy_id": fip.qos_policy_id, "qos_network_policy_id": network_policy_id,
        "port_details": None, "dns_domain": "", "dns_name": "",
        **_standard(fip, tags),
    }


def rbac_view(entry) -> dict:
    return {"id": entry.id, "project_id": entry.project_id, "tenant_id": entry.project_id,
            "object_type": entry.object_type, "object_id": entry.object_id,
            "action": entry.action, "target_tenant": entry.target_project,
            "target_project_id": entry.target_project}
