"""The real `openstack` command (python-openstackclient) against a real server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

OPENSTACK = Path(sys.executable).parent / "openstack"
pytestmark = pytest.mark.skipif(not OPENSTACK.exists(), reason="python-openstackclient missing")


class Cli:
    def __init__(self, url: str):
        self.url = url
        # No clouds.yaml or OS_* variable of the machine may leak into the tests.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["OS_CLIENT_CONFIG_FILE"] = "/nonexistent/clouds.yaml"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", self.url, *args]
        res = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(args)} -> {res.returncode}\n{res.stdout}\n"
                                 f"{res.stderr}")
        return res

    def json(self, *args: str):
        return json.loads(self.run(*args, "-f", "json").stdout)


@pytest.fixture
def cli(api_server):
    return Cli(api_server.url + "/")


@pytest.fixture
def policy_name(cli):
    name = "cli-" + uuid.uuid4().hex[:8]
    yield name
    cli.run("network", "qos", "policy", "delete", name, check=False)


def test_policy_create_list_show_set_delete(cli, policy_name):
    created = cli.json("network", "qos", "policy", "create", policy_name,
                       "--description", "from the cli", "--share")
    assert created["name"] == policy_name
    assert created["description"] == "from the cli"
    assert created["shared"] is True and created["rules"] == []
    assert created["project_id"] == "fake_project_id"

    listed = cli.json("network", "qos", "policy", "list")
    row = next(r for r in listed if r["Name"] == policy_name)
    assert row["ID"] == created["id"] and row["Shared"] is True

    shown = cli.json("network", "qos", "policy", "show", policy_name)
    assert shown["id"] == created["id"] and shown["revision_number"] == 0

    cli.run("network", "qos", "policy", "set", policy_name, "--no-share",
            "--description", "changed", "--default")
    shown = cli.json("network", "qos", "policy", "show", created["id"])
    assert (shown["shared"], shown["description"], shown["is_default"]) == (False, "changed",
                                                                            True)
    cli.run("network", "qos", "policy", "set", policy_name, "--no-default")

    cli.run("network", "qos", "policy", "delete", policy_name)
    res = cli.run("network", "qos", "policy", "show", created["id"], check=False)
    assert res.returncode != 0
    assert "found" in res.stderr.lower(), res.stderr


def test_rules(cli, policy_name):
    cli.json("network", "qos", "policy", "create", policy_name)
    limit = cli.json("network", "qos", "rule", "create", "--type", "bandwidth-limit",
                     "--max-kbps", "10000", "--max-burst-kbits", "1000", "--egress",
                     policy_name)
    assert (limit["max_kbps"], limit["max_burst_kbps"], limit["direction"]) == (10000, 1000,
                                                                                 "egress")
    dscp = cli.json("network", "qos", "rule", "create", "--type", "dscp-marking",
                    "--dscp-mark", "26", policy_name)
    assert dscp["dscp_mark"] == 26
    minimum = cli.json("network", "qos", "rule", "create", "--type", "minimum-bandwidth",
                       "--min-kbps", "1000", "--egress", policy_name)
    assert minimum["min_kbps"] == 1000
    pps = cli.json("network", "qos", "rule", "create", "--type", "minimum-packet-rate",
                   "--min-kpps", "100", "--any", policy_name)
    assert pps["direction"] == "any"
    # python-openstackclient has no --type packet-rate-limit: the SDK tests cover that type.

    rows = cli.json("network", "qos", "rule", "list", policy_name)
    assert sorted(r["Type"] for r in rows) == ["bandwidth_limit", "dscp_marking",
                                               "minimum_bandwidth", "minimum_packet_rate"]
    by_type = {r["Type"]: r for r in rows}
    assert by_type["bandwidth_limit"]["Max Kbps"] == 10000
    assert by_type["dscp_marking"]["DSCP mark"] == 26

    cli.run("network", "qos", "rule", "set", "--max-kbps", "20000", policy_name, limit["id"])
    shown = cli.json("network", "qos", "rule", "show", policy_name, limit["id"])
    assert shown["max_kbps"] == 20000 and shown["id"] == limit["id"]

    # A second egress limit conflicts; the CLI reports the server's error and fails.
    res = cli.run("network", "qos", "rule", "create", "--type", "bandwidth-limit",
                  "--max-kbps", "5", "--egress", policy_name, check=False)
    assert res.returncode != 0 and "conflict" in res.stderr.lower()
    # A minimum above the limit is refused.
    cli.run("network", "qos", "rule", "delete", policy_name, minimum["id"])
    res = cli.run("network", "qos", "rule", "create", "--type", "minimum-bandwidth",
                  "--min-kbps", "30000", "--egress", policy_name, check=False)
    assert res.returncode != 0

    cli.run("network", "qos", "rule", "delete", policy_name, limit["id"])
    rows = cli.json("network", "qos", "rule", "list", policy_name)
    assert "bandwidth_limit" not in {r["Type"] for r in rows}


def test_rule_types(cli):
    rows = cli.json("network", "qos", "rule", "type", "list")
    assert rows and all(set(r) == {"Type"} for r in rows)
    every = cli.json("network", "qos", "rule", "type", "list", "--all-rules")
    assert {r["Type"] for r in every} == {"bandwidth_limit", "dscp_marking", "minimum_bandwidth",
                                          "minimum_packet_rate", "packet_rate_limit"}
    supported = cli.json("network", "qos", "rule", "type", "list", "--all-supported")
    assert {r["Type"] for r in rows} <= {r["Type"] for r in supported}
    detail = cli.json("network", "qos", "rule", "type", "show", "bandwidth_limit")
    assert detail["drivers"]


def test_invalid_value_is_reported(cli, policy_name):
    cli.json("network", "qos", "policy", "create", policy_name)
    res = cli.run("network", "qos", "rule", "create", "--type", "dscp-marking",
                  "--dscp-mark", "7", policy_name, check=False)
    assert res.returncode != 0 and "dscp_mark" in res.stderr


def test_provider_and_tenant_networks(cli):
    """`openstack network create` with provider options, and a tenant network's segment."""
    name, physnet = "cli-net-" + uuid.uuid4().hex[:8], "phys-" + uuid.uuid4().hex[:8]
    try:
        made = cli.json("network", "create", name, "--external", "--provider-network-type",
                        "flat", "--provider-physical-network", physnet)
        assert (made["provider:network_type"], made["provider:physical_network"],
                made["provider:segmentation_id"], made["router:external"]) == (
            "flat", physnet, None, True)
        again = cli.run("network", "create", name + "-2", "--provider-network-type", "flat",
                        "--provider-physical-network", physnet, check=False)
        assert again.returncode != 0 and "is in use" in again.stderr, again.stderr
        tenant = cli.json("network", "create", name + "-t")
        assert tenant["provider:network_type"] == "vxlan" and tenant["mtu"] == 1450
        assert isinstance(tenant["provider:segmentation_id"], int)
    finally:
        for n in (name, name + "-t"):
            cli.run("network", "delete", n, check=False)
