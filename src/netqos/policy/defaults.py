"""Neutron 29's policy rules for QoS, RBAC and the rules every other one builds on: the
same names and default check strings, so an operator's policy.yaml for Neutron works here.

Persona check strings, as neutron-lib spells them:
"""
from __future__ import annotations

from oslo_policy.policy import DocumentedRuleDefault, RuleDefault

ADMIN = "rule:admin_only"
SERVICE = "rule:service_api"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_PROJECT_MANAGER = f"({ADMIN}) or ({PROJECT_MANAGER})"
ADMIN_OR_PROJECT_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"({ADMIN}) or ({PROJECT_READER})"
ADMIN_OR_PARENT_OWNER_MANAGER = f"({ADMIN}) or (role:manager and rule:ext_parent_owner)"
ADMIN_OR_PARENT_OWNER_READER = f"({ADMIN}) or (role:reader and rule:ext_parent_owner)"


def documented(name: str, check: str, description: str, *operations: str):
    """A rule that guards an API call; operations are "METHOD /path" strings."""
    ops = [{"method": m, "path": p} for m, p in (o.split(" ", 1) for o in operations)]
    return DocumentedRuleDefault(name=name, check_str=check, description=description,
                                 operations=ops)


BASE = [
    RuleDefault("context_is_admin", "role:admin", description="Rule for cloud admin access"),
    RuleDefault("context_with_global_access", "!",
                description="Rule for context with global access to the resources"),
    RuleDefault("service_api", "role:service",
                description="Default rule for the service-to-service APIs."),
    RuleDefault("owner", "project_id:%(project_id)s",
                description="Rule for resource owner access"),
    RuleDefault("admin_or_owner", "rule:context_is_admin or rule:owner",
                description="Rule for admin or owner access"),
    RuleDefault("context_is_advsvc", "role:advsvc", description="Rule for advsvc role access"),
    RuleDefault("admin_or_network_owner",
                "rule:context_is_admin or project_id:%(network:project_id)s",
                description="Rule for admin or network owner access"),
    RuleDefault("admin_owner_or_network_owner", "rule:owner or rule:admin_or_network_owner",
                description="Rule for resource owner, admin or network owner access"),
    RuleDefault("network_owner", "project_id:%(network:project_id)s",
                description="Rule for network owner access"),
    RuleDefault("admin_only", "rule:context_is_admin", description="Rule for admin-only access"),
    RuleDefault("regular_user", "", description="Rule for regular user access"),
    RuleDefault("shared", "field:networks:shared=True", description="Rule of shared network"),
    RuleDefault("default", "rule:admin_or_owner", description="Default access rule"),
    RuleDefault("admin_or_ext_parent_owner",
                "rule:context_is_admin or project_id:%(ext_parent:project_id)s",
                description="Rule for common parent owner check"),
    RuleDefault("ext_parent_owner", "project_id:%(ext_parent:project_id)s",
                description="Rule for common parent owner check"),
]

POLICY_PATH = "/qos/policies"
QOS = [
    RuleDefault("shared_qos_policy", "field:policies:shared=True",
                description="Rule of shared qos policy"),
    documented("get_policy", f"{ADMIN_OR_PROJECT_READER} or rule:shared_qos_policy",
               "Get QoS policies", f"GET {POLICY_PATH}", f"GET {POLICY_PATH}/{{id}}"),
    documented("create_policy", ADMIN_OR_PROJECT_MANAGER, "Create a QoS policy",
               f"POST {POLICY_PATH}"),
    documented("update_policy", ADMIN_OR_PROJECT_MANAGER, "Update a QoS policy",
               f"PUT {POLICY_PATH}/{{id}}"),
    documented("delete_policy", ADMIN_OR_PROJECT_MANAGER, "Delete a QoS policy",
               f"DELETE {POLICY_PATH}/{{id}}"),
    *(documented(f"{action}_policy:tags", check, f"{verb} the QoS policy tags",
                 f"{method} {POLICY_PATH}/{{id}}/tags")
      for action, check, verb, method in (
          ("get", f"{ADMIN_OR_PROJECT_READER} or rule:shared_qos_policy", "Get", "GET"),
          ("create", ADMIN_OR_PROJECT_MANAGER, "Create", "POST"),
          ("update", ADMIN_OR_PROJECT_MANAGER, "Update", "PUT"),
          ("delete", ADMIN_OR_PROJECT_MANAGER, "Delete", "DELETE"))),
    # Not ADMIN_OR_PROJECT_READER: a rule type belongs to no project.
    documented("get_rule_type", "role:reader", "Get available QoS rule types",
               "GET /qos/rule-types", "GET /qos/rule-types/{rule_type}"),
]

RULE_TYPES = ("bandwidth_limit", "packet_rate_limit", "dscp_marking", "minimum_bandwidth",
              "minimum_packet_rate")
ACTIONS = (("get", "Get", "GET", ADMIN_OR_PARENT_OWNER_READER),
           ("create", "Create", "POST", ADMIN_OR_PARENT_OWNER_MANAGER),
           ("update", "Update", "PUT", ADMIN_OR_PARENT_OWNER_MANAGER),
           ("delete", "Delete", "DELETE", ADMIN_OR_PARENT_OWNER_MANAGER))


def _rule_rules(rule_type: str) -> list:
    words = rule_type.replace("_", " ")
    path = f"{POLICY_PATH}/{{policy_id}}/{rule_type}_rules"
    out = []
    for action, verb, method, check in ACTIONS:
        paths = [f"{method} {path}"] if action == "create" else [f"{method} {path}/{{rule_id}}"]
        if action == "get":
            paths.insert(0, f"GET {path}")
        out.append(documented(f"{action}_policy_{rule_type}_rule", check,
                              f"{verb} a QoS {words} rule", *paths))
    for action, verb, method, check in ACTIONS:
        # Neutron has no alias rules for creating, nor any for packet-rate limits.
        if action == "create" or rule_type == "packet_rate_limit":
            continue
        # Neutron spells the newest alias rules as references to the policy's rules.
        if rule_type == "minimum_packet_rate":
            check = f"rule:{action}_policy_{rule_type}_rule"
        out.append(documented(f"{action}_alias_{rule_type}_rule", check,
                              f"{verb} a QoS {words} rule through its alias",
                              f"{method} /qos/alias_{rule_type}_rules/{{rule_id}}"))
    return out


QOS_RULES = [r for t in RULE_TYPES for r in _rule_rules(t)]

RBAC_PATH = "/rbac-policies"
NO_WILDCARD = ("(not field:rbac_policy:target_tenant=* and "
               "not field:rbac_policy:target_project=*)")
RBAC = [
    RuleDefault("restrict_wildcard", f"{NO_WILDCARD} or {ADMIN}",
                description="Create RBAC policy with wildcard target only by admin"),
    documented("create_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Create an RBAC policy",
               f"POST {RBAC_PATH}"),
    documented("create_rbac_policy:target_tenant", f"{ADMIN} or {NO_WILDCARD}",
               "Specify ``target_tenant`` when creating an RBAC policy", f"POST {RBAC_PATH}"),
    documented("create_rbac_policy:target_project",
               f"{ADMIN} or not field:rbac_policy:target_project=*",
               "Specify ``target_project`` when creating an RBAC policy", f"POST {RBAC_PATH}"),
    documented("update_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Update an RBAC policy",
               f"PUT {RBAC_PATH}/{{id}}"),
    documented("update_rbac_policy:target_tenant", f"{ADMIN} or {NO_WILDCARD}",
               "Update ``target_tenant`` attribute of an RBAC policy", f"PUT {RBAC_PATH}/{{id}}"),
    documented("update_rbac_policy:target_project",
               f"{ADMIN} or not field:rbac_policy:target_project=*",
               "Update ``target_project`` attribute of an RBAC policy",
               f"PUT {RBAC_PATH}/{{id}}"),
    documented("get_rbac_policy", ADMIN_OR_PROJECT_READER, "Get an RBAC policy",
               f"GET {RBAC_PATH}", f"GET {RBAC_PATH}/{{id}}"),
    documented("delete_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Delete an RBAC policy",
               f"DELETE {RBAC_PATH}/{{id}}"),
]

AGENTS = [
    documented(f"{action}_agent", ADMIN, f"{verb} an agent", f"{method} /agents/{{id}}")
    for action, verb, method in (("get", "Get", "GET"), ("update", "Update", "PUT"),
                                 ("delete", "Delete", "DELETE"))
]
