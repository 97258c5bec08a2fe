"""The unmodified `openstack` CLI and openstacksdk with password auth: they log in to
Keystone, find netqos as `network` in the catalog and run the whole QoS workflow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.keystone
OPENSTACK = Path(sys.executable).parent / "openstack"

RULES = {  # rule type: (sdk noun, body)
    "bandwidth_limit": ("bandwidth_limit_rule", {"max_kbps": 10000, "direction": "egress"}),
    "dscp_marking": ("dscp_marking_rule", {"dscp_mark": 26}),
    "minimum_bandwidth": ("minimum_bandwidth_rule", {"min_kbps": 1000}),
    "minimum_packet_rate": ("minimum_packet_rate_rule", {"min_kpps": 100, "direction": "any"}),
    "packet_rate_limit": ("packet_rate_limit_rule", {"max_kpps": 500}),
}


@pytest.fixture(scope="module")
def clouds_yaml(keystone_cloud, keystone_netqos, tmp_path_factory) -> Path:
    """A clouds.yaml with one cloud per user, password auth, as an operator hands out."""
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"
    clouds = {user: {"auth": keystone_cloud.auth(user), "region_name": "RegionOne",
                     "identity_api_version": 3, "interface": "public"}
              for user in ("alpha-manager", "alpha-member", "beta-member")}
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return path


class Cli:
    def __init__(self, clouds: Path, cloud: str):
        self.cloud = cloud
        # Only the clouds.yaml: no OS_* variable of the machine may leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["OS_CLIENT_CONFIG_FILE"] = str(clouds)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(OPENSTACK), "--os-cloud", self.cloud, *args]
        res = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(args)} -> {res.returncode}\n{res.stdout}\n"
                                 f"{res.stderr}")
        return res

    def json(self, *args: str):
        return json.loads(self.run(*args, "-f", "json").stdout)


def test_openstack_cli_qos_workflow(clouds_yaml, keystone_cloud):
    cli = Cli(clouds_yaml, "alpha-manager")
    name = "ks-cli-" + uuid.uuid4().hex[:6]
    policy = cli.json("network", "qos", "policy", "create", name, "--description", "via ks")
    assert policy["project_id"] == keystone_cloud.project_ids["alpha"]
    pid = policy["id"]
    cli.json("network", "qos", "rule", "create", "--type", "bandwidth-limit", "--max-kbps",
             "10000", "--egress", pid)
    cli.json("network", "qos", "rule", "create", "--type", "dscp-marking", "--dscp-mark",
             "26", pid)
    cli.json("network", "qos", "rule", "create", "--type", "minimum-bandwidth", "--min-kbps",
             "1000", "--egress", pid)
    cli.json("network", "qos", "rule", "create", "--type", "minimum-packet-rate",
             "--min-kpps", "100", "--any", pid)
    # python-openstackclient has no --type packet-rate-limit: the SDK test covers that type.
    shown = cli.json("network", "qos", "policy", "show", pid)
    assert sorted(r["type"] for r in shown["rules"]) == [
        "bandwidth_limit", "dscp_marking", "minimum_bandwidth", "minimum_packet_rate"]

    net = cli.json("network", "create", name, "--qos-policy", pid)
    assert net["qos_policy_id"] == pid
    port = cli.json("port", "create", name, "--network", net["id"])
    assert cli.json("port", "show", port["id"])["qos_network_policy_id"] == pid
    cli.run("port", "set", port["id"], "--qos-policy", pid)
    assert cli.json("port", "show", port["id"])["qos_policy_id"] == pid

    # A member of the project may bind policies but may not change them (Neutron's rule).
    member = Cli(clouds_yaml, "alpha-member")
    res = member.run("network", "qos", "policy", "set", pid, "--description", "x", check=False)
    assert res.returncode != 0 and "disallowed by policy" in res.stderr, res.stderr
    # Another project does not even see it.
    res = Cli(clouds_yaml, "beta-member").run("network", "qos", "policy", "show", pid,
                                              check=False)
    assert res.returncode != 0 and "found" in res.stderr.lower(), res.stderr

    cli.run("port", "unset", port["id"], "--qos-policy")
    cli.run("port", "delete", port["id"])
    cli.run("network", "delete", net["id"])
    cli.run("network", "qos", "policy", "delete", pid)
    res = cli.run("network", "qos", "policy", "show", pid, check=False)
    assert res.returncode != 0 and "found" in res.stderr.lower()


def test_openstacksdk_qos_workflow(keystone_cloud, keystone_netqos):
    import openstack

    conn = openstack.connect(**keystone_cloud.auth("beta-manager"), region_name="RegionOne",
                             load_yaml_config=False, load_envvars=False)
    try:
        # The endpoint comes from Keystone's catalog, not from the test.
        assert conn.network.get_endpoint().rstrip("/").startswith(keystone_netqos.url)
        policy = conn.network.create_qos_policy(name="ks-sdk-" + uuid.uuid4().hex[:6])
        assert policy.project_id == keystone_cloud.project_ids["beta"]
        for noun, body in RULES.values():
            rule = getattr(conn.network, f"create_qos_{noun}")(policy, **body)
            assert getattr(conn.network, f"get_qos_{noun}")(rule.id, policy).id == rule.id
        shown = conn.network.get_qos_policy(policy.id)
        assert sorted(r["type"] for r in shown.rules) == sorted(RULES)

        net = conn.network.create_network(name="ks-sdk", qos_policy_id=policy.id)
        port = conn.network.create_port(network_id=net.id)
        assert conn.network.get_port(port.id).qos_network_policy_id == policy.id
        port = conn.network.update_port(port, qos_policy_id=policy.id)
        assert port.qos_policy_id == policy.id
        conn.network.update_port(port, qos_policy_id=None)
        conn.network.delete_port(port)
        conn.network.delete_network(net)
        conn.network.delete_qos_policy(policy)
        assert conn.network.find_qos_policy(policy.id, ignore_missing=True) is None
    finally:
        conn.close()
