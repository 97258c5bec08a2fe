"""The policy engine: Neutron's rule names and defaults, the field check, implied roles,
an operator's file, and the sample generator."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netqos.policy.engine import PolicyEngine, all_defaults
from netqos.policy.roles import with_implied
from netqos.policy.sample import sample_yaml


def creds(project: str, *roles: str) -> dict:
    return {"project_id": project, "roles": sorted(with_implied(roles))}


@pytest.fixture(scope="module")
def engine():
    return PolicyEngine()


def test_implied_roles():
    assert with_implied({"admin"}) == {"admin", "manager", "member", "reader"}
    assert with_implied({"member"}) == {"member", "reader"}
    assert with_implied({"agent"}) == {"agent"}


def test_rule_names_are_unique_and_cover_neutrons_qos_rules():
    names = [r.name for r in all_defaults()]
    assert len(names) == len(set(names))
    for rule_type in ("bandwidth_limit", "dscp_marking", "minimum_bandwidth",
                      "minimum_packet_rate", "packet_rate_limit"):
        for action in ("get", "create", "update", "delete"):
            assert f"{action}_policy_{rule_type}_rule" in names
    for name in ("create_policy", "get_rule_type", "update_port:binding:host_id",
                 "create_rbac_policy", "create_floatingip:floating_ip_address",
                 "add_router_interface", "create_network:shared"):
        assert name in names


@pytest.mark.parametrize("roles,project,allowed", [
    (("admin",), "other", True), (("manager",), "p", True), (("manager",), "other", False),
    (("member",), "p", False), (("reader",), "p", False)])
def test_create_policy(engine, roles, project, allowed):
    assert engine.allowed(creds(project, *roles), "create_policy", {"project_id": "p"}) \
        is allowed


def test_shared_policy_is_readable_by_anyone_with_a_role(engine):
    target = {"project_id": "p", "shared": True}
    assert engine.allowed(creds("q", "reader"), "get_policy", target)
    assert not engine.allowed(creds("q", "reader"), "get_policy", {**target, "shared": False})


def test_rule_rules_look_at_the_parent_policy(engine):
    target = {"ext_parent:project_id": "p"}
    assert engine.allowed(creds("p", "manager"), "create_policy_dscp_marking_rule", target)
    assert not engine.allowed(creds("q", "manager"), "create_policy_dscp_marking_rule", target)
    assert engine.allowed(creds("p", "reader"), "get_alias_minimum_packet_rate_rule", target)


def test_network_device_owner_needs_the_network_owner(engine):
    base = {"project_id": "q", "network:project_id": "p"}
    rule = "create_port:device_owner"
    assert engine.allowed(creds("q", "member"), rule, {**base, "device_owner": "compute:n"})
    for owner in ("network:dhcp", "neutron:LOADBALANCERV2"):
        assert not engine.allowed(creds("q", "member"), rule, {**base, "device_owner": owner})
        assert engine.allowed(creds("p", "member"), rule, {**base, "device_owner": owner,
                                                           "project_id": "p"})


def test_binding_host_is_for_admin_and_service(engine):
    rule, target = "update_port:binding:host_id", {"project_id": "p"}
    assert engine.allowed(creds("p", "admin"), rule, target)
    assert engine.allowed(creds("svc", "service"), rule, target)
    assert not engine.allowed(creds("p", "manager"), rule, target)


def test_rbac_wildcard_is_for_admins(engine):
    rule = "create_rbac_policy:target_tenant"
    assert not engine.allowed(creds("p", "member"), rule, {"target_tenant": "*"})
    assert engine.allowed(creds("p", "member"), rule, {"target_tenant": "q"})
    assert engine.allowed(creds("p", "admin"), rule, {"target_tenant": "*"})


def test_operator_file_overrides_one_rule(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('"create_policy": "role:member and project_id:%(project_id)s"\n')
    engine = PolicyEngine(str(path))
    assert engine.allowed(creds("p", "member"), "create_policy", {"project_id": "p"})
    assert not engine.allowed(creds("p", "member"), "update_policy", {"project_id": "p"})


def test_missing_policy_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        PolicyEngine(str(tmp_path / "nope.yaml"))


def test_sample_lists_every_default_commented_out():
    text = sample_yaml()
    assert yaml.safe_load(text) is None     # everything commented out
    uncommented = "\n".join(line[1:] if line.startswith('#"') else line
                            for line in text.splitlines())
    rules = yaml.safe_load(uncommented)
    assert rules == {r.name: r.check_str for r in all_defaults()}
    assert "# POST  /qos/policies\n" in text


def test_policy_sample_command():
    netqos = Path(sys.executable).parent / "netqos"
    out = subprocess.run([str(netqos), "policy-sample"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert '#"create_policy": "(rule:admin_only) or (role:manager and ' \
           'project_id:%(project_id)s)"' in out


def test_keystone_settings_from_the_authtoken_section(tmp_path):
    from netqos.config import Settings

    conf = tmp_path / "netqos.conf"
    conf.write_text("[netqos]\nauth = keystone\n[keystone_authtoken]\n"
                    "auth_url = http://ks:5000/v3\nusername = netqos\npassword = s3cret\n"
                    "token_cache_time = 60\nagent_users = a:h1\n")
    s = Settings.load({"config": str(conf)}, env={"NETQOS_KEYSTONE_PROJECT_NAME": "svc"})
    assert (s.auth, s.keystone_auth_url, s.keystone_username, s.keystone_password) == (
        "keystone", "http://ks:5000/v3", "netqos", "s3cret")
    assert (s.keystone_token_cache_time, s.keystone_agent_users) == (60, "a:h1")
    assert s.keystone_project_name == "svc"   # the environment over the file


def test_remembered_decisions_follow_the_policy_file(tmp_path):
    """Decisions are remembered per (rule, caller, target), and forgotten when the
    operator's file changes on disk, as oslo.policy reloads it."""
    path = tmp_path / "policy.yaml"
    path.write_text('"create_policy": "role:member and project_id:%(project_id)s"\n')
    engine = PolicyEngine(str(path))
    member, target = creds("p", "member"), {"project_id": "p"}
    assert engine.allowed(member, "create_policy", target)
    assert engine.allowed(member, "create_policy", target)   # remembered
    path.write_text('"create_policy": "rule:admin_only"\n# a longer file: a new size\n')
    assert not engine.allowed(member, "create_policy", target)
    assert engine.allowed(creds("p", "admin"), "create_policy", target)


def test_unhashable_targets_are_decided_afresh(engine):
    target = {"project_id": "p", "fixed_ips": [{"subnet_id": "s"}]}
    assert engine.allowed(creds("p", "admin"), "create_policy", target)
    assert not engine.allowed(creds("p", "member"), "create_policy", target)
