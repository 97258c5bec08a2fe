"""Neutron 29's policy rules for networks, subnets, ports, routers and floating IPs: the
same names and default check strings (netqos's two deliberate differences are marked)."""
from __future__ import annotations

from oslo_policy.policy import RuleDefault

from netqos.policy.defaults import (ADMIN, ADMIN_OR_PROJECT_MANAGER, ADMIN_OR_PROJECT_MEMBER,
                                    ADMIN_OR_PROJECT_READER, PROJECT_MEMBER, SERVICE,
                                    documented)

NET_OWNER_MEMBER = f"({ADMIN}) or (role:member and rule:network_owner)"
NET_OWNER_READER = f"({ADMIN}) or (role:reader and rule:network_owner)"
PORT_NET_MEMBER = f"({ADMIN}) or ({SERVICE}) or role:member and rule:network_owner"
PORT_ADMIN_OR_SERVICE = f"({ADMIN}) or ({SERVICE})"


def resource_rules(resource: str, collection: str, main: dict[str, str],
                   attributes: dict[str, str]) -> list:
    """`<action>_<resource>` for the API calls, `<action>_<resource>:<attr>` for setting or
    seeing one attribute."""
    methods = {"create": "POST", "get": "GET", "update": "PUT", "delete": "DELETE"}
    out = []
    for action, check in main.items():
        path = f"/{collection}" if action == "create" else f"/{collection}/{{id}}"
        ops = [f"{methods[action]} {path}"]
        if action == "get":
            ops.insert(0, f"GET /{collection}")
        out.append(documented(f"{action}_{resource}", check, f"{action.capitalize()} a "
                              f"{resource}", *ops))
    for name, check in attributes.items():
        action, _, attr = name.partition(":")
        out.append(RuleDefault(f"{action}_{resource}:{attr}", check,
                               description=f"{action.capitalize()} the ``{attr}`` attribute "
                                           f"of a {resource}"))
    return out


def crud(get: str, write: str) -> dict[str, str]:
    return {"create": write, "get": get, "update": write, "delete": write}


NETWORK = [
    RuleDefault("external", "field:networks:router:external=True",
                description="Definition of an external network"),
    *resource_rules("network", "networks", {
        "create": ADMIN_OR_PROJECT_MEMBER,
        "get": f"{ADMIN_OR_PROJECT_READER} or {SERVICE} or rule:shared or rule:external or "
               "rule:context_is_advsvc",
        "update": ADMIN_OR_PROJECT_MEMBER, "delete": ADMIN_OR_PROJECT_MEMBER}, {
        **{f"{a}:{attr}": ADMIN for a in ("create", "update")
           for attr in ("shared", "router:external", "is_default", "segments",
                        "provider:network_type", "provider:physical_network",
                        "provider:segmentation_id")},
        **{f"get:{attr}": ADMIN for attr in ("segments", "provider:network_type",
                                             "provider:physical_network",
                                             "provider:segmentation_id")},
        "create:port_security_enabled": ADMIN_OR_PROJECT_MEMBER,
        "update:port_security_enabled": ADMIN_OR_PROJECT_MEMBER,
        **{f"{a}:tags": ADMIN_OR_PROJECT_MEMBER for a in ("create", "update", "delete")},
        "get:tags": f"{ADMIN_OR_PROJECT_READER} or rule:shared or rule:external or "
                    "rule:context_is_advsvc"}),
]

SUBNET_MEMBER = f"{PROJECT_MEMBER} or {NET_OWNER_MEMBER}"
SUBNET = [
    RuleDefault("external_network", "field:subnets:router:external=True",
                description="Definition of a wildcard target_tenant"),
    *resource_rules("subnet", "subnets", {
        "create": NET_OWNER_MEMBER,
        "get": "role:reader and project_id:%(project_id)s or rule:shared or "
               f"rule:external_network or {NET_OWNER_READER} or {SERVICE}",
        "update": SUBNET_MEMBER, "delete": SUBNET_MEMBER}, {
        **{f"{a}:segment_id": ADMIN for a in ("create", "get", "update")},
        **{f"{a}:service_types": ADMIN for a in ("create", "update")},
        **{f"{a}:tags": SUBNET_MEMBER for a in ("create", "update", "delete")}}),
]

PORT_OWNER_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER}) or {SERVICE}"
PORT = [
    # Neutron's network_device is `^network:`; netqos counts `neutron:` owners too, since
    # any service owner takes a port out of its network's QoS policy.
    RuleDefault("network_device", "field:port:device_owner=~^(network|neutron):",
                description="Definition of port with network device_owner"),
    RuleDefault("admin_or_data_plane_int", "rule:context_is_admin or "
                "role:data_plane_integrator", description="Rule for data plane integration"),
    *resource_rules("port", "ports", {
        "create": f"{PORT_NET_MEMBER} or rule:shared",
        "get": f"{PORT_ADMIN_OR_SERVICE} or role:reader and rule:network_owner or "
               "role:reader and project_id:%(project_id)s",
        "update": f"{PORT_ADMIN_OR_SERVICE} or {PROJECT_MEMBER}",
        "delete": f"{PORT_NET_MEMBER} or {PROJECT_MEMBER}"}, {
        **{f"{a}:device_id": PORT_OWNER_MEMBER for a in ("create", "update")},
        **{f"{a}:device_owner": f"not rule:network_device or {PORT_NET_MEMBER}"
           for a in ("create", "update")},
        "create:mac_address": PORT_NET_MEMBER,
        "update:mac_address": f"{PORT_ADMIN_OR_SERVICE} or role:manager and "
                              "rule:network_owner",
        "create:fixed_ips": f"{PORT_NET_MEMBER} or rule:shared",
        "update:fixed_ips": PORT_NET_MEMBER,
        **{f"{a}:fixed_ips:ip_address": PORT_NET_MEMBER for a in ("create", "update")},
        **{f"{a}:fixed_ips:subnet_id": f"{PORT_NET_MEMBER} or rule:shared"
           for a in ("create", "update")},
        **{f"{a}:port_security_enabled": PORT_NET_MEMBER for a in ("create", "update")},
        **{f"{a}:binding:host_id": PORT_ADMIN_OR_SERVICE for a in ("create", "update")},
        # Neutron 29: `rule:service_api` alone. netqos lets an admin set the profile too,
        # as Neutron did before the service role (clouds without that role keep working).
        **{f"{a}:binding:profile": PORT_ADMIN_OR_SERVICE for a in ("create", "update")},
        "create:binding:vnic_type": PORT_OWNER_MEMBER,
        "update:binding:vnic_type": f"{PORT_ADMIN_OR_SERVICE} or {PROJECT_MEMBER}",
        **{f"{a}:allowed_address_pairs{sub}": f"{NET_OWNER_MEMBER} or {SERVICE}"
           for a in ("create", "update") for sub in ("", ":mac_address", ":ip_address")},
        **{f"{a}:{attr}": ADMIN for a in ("create", "update", "get")
           for attr in ("hints", "trusted")},
        "update:data_plane_status": "rule:admin_only or role:data_plane_integrator",
        **{f"get:binding:{attr}": PORT_ADMIN_OR_SERVICE
           for attr in ("vif_type", "vif_details", "host_id", "profile")},
        "get:resource_request": ADMIN,
        **{f"{a}:tags": f"{ADMIN_OR_PROJECT_MEMBER} or rule:context_is_advsvc"
           for a in ("create", "update")},
        "get:tags": f"rule:context_is_advsvc or {NET_OWNER_READER} or "
                    "role:reader and project_id:%(project_id)s",
        "delete:tags": f"rule:context_is_advsvc or {PROJECT_MEMBER} or {NET_OWNER_MEMBER}"}),
]

ROUTER = [
    *resource_rules("router", "routers", crud(ADMIN_OR_PROJECT_READER,
                                              ADMIN_OR_PROJECT_MEMBER), {
        **{f"{a}:{attr}": ADMIN for a in ("create", "get", "update")
           for attr in ("distributed", "ha")},
        **{f"{a}:{attr}": ADMIN_OR_PROJECT_MEMBER for a in ("create", "update")
           for attr in ("external_gateway_info", "external_gateway_info:network_id")},
        **{f"{a}:{attr}": ADMIN for a in ("create", "update")
           for attr in ("external_gateway_info:enable_snat",
                        "external_gateway_info:external_fixed_ips",
                        "enable_default_route_bfd", "enable_default_route_ecmp")},
        **{f"{a}:tags": ADMIN_OR_PROJECT_MEMBER for a in ("create", "update", "delete")},
        "get:tags": ADMIN_OR_PROJECT_READER}),
    *(documented(name, ADMIN_OR_PROJECT_MEMBER, f"{name.replace('_', ' ').capitalize()}",
                 f"PUT /routers/{{id}}/{name}")
      for name in ("add_router_interface", "remove_router_interface", "add_extraroutes",
                   "remove_extraroutes")),
    *(RuleDefault(f"{action}_external_gateways{attr}", check,
                  description=f"{action.capitalize()} external gateways of a router")
      for action in ("add", "update")
      for attr, check in (("", ADMIN_OR_PROJECT_MEMBER),
                          (":external_gateways", ADMIN_OR_PROJECT_MEMBER),
                          (":external_gateways:network_id", ADMIN_OR_PROJECT_MEMBER),
                          (":external_gateways:enable_snat", ADMIN),
                          (":external_gateways:external_fixed_ips", ADMIN))),
    *(RuleDefault(f"remove_external_gateways{attr}", ADMIN_OR_PROJECT_MEMBER,
                  description="Remove external gateways from a router")
      for attr in ("", ":external_gateways")),
]

FLOATINGIP = resource_rules("floatingip", "floatingips", crud(ADMIN_OR_PROJECT_READER,
                                                              ADMIN_OR_PROJECT_MEMBER), {
    "create:floating_ip_address": ADMIN_OR_PROJECT_MANAGER,
    **{f"{a}:tags": ADMIN_OR_PROJECT_MEMBER for a in ("create", "update", "delete")},
    "get:tags": ADMIN_OR_PROJECT_READER})
