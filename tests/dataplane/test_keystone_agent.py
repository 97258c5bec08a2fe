"""An agent in a Keystone cloud: it logs in as its host's service user (OS_* variables,
password auth), finds netqos in the catalog, and enforces its own host's ports; with its
token it cannot read another host's."""
from __future__ import annotations

import os
import uuid

import httpx
import pytest

from tests.conftest import AGENT_HOSTS
from tests.harness.agentproc import AgentProcess
from tests.dataplane.test_agent_api import plug_vm, root_qdisc
from tests.harness.util import wait_until

pytestmark = [pytest.mark.keystone, pytest.mark.dataplane]


def test_agent_through_keystone_enforces_its_host_only(keystone_cloud, keystone_netqos, lab,
                                                       tmp_path):
    host, other = AGENT_HOSTS
    admin = httpx.Client(base_url=keystone_netqos.url + "/v2.0", timeout=30,
                         headers={"X-Auth-Token": keystone_cloud.token("alpha-admin")})
    policy = admin.post("/qos/policies", json={"policy": {"name": "ks-agent"}}).json()["policy"]
    admin.post(f"/qos/policies/{policy['id']}/bandwidth_limit_rules", json={
        "bandwidth_limit_rule": {"max_kbps": 20000, "direction": "ingress"}})
    net = admin.post("/networks", json={"network": {"name": "ks-" + uuid.uuid4().hex[:6]}}
                     ).json()["network"]
    admin.post("/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                            "cidr": "198.18.0.0/16"}})
    port = admin.post("/ports", json={"port": {"network_id": net["id"], "binding:host_id": host,
                                               "qos_policy_id": policy["id"]}}).json()["port"]
    vm = plug_vm(lab, port)

    auth = keystone_cloud.auth(f"netqos-agent-{host}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NETQOS_"))}
    env.update({"OS_AUTH_URL": auth["auth_url"], "OS_USERNAME": auth["username"],
                "OS_PASSWORD": auth["password"], "OS_PROJECT_NAME": auth["project_name"],
                "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"})
    # No --server: the agent takes netqos's URL from Keystone's catalog.
    agent = AgentProcess("", host, lab.host, tmp_path / "agent.log", env=env)
    agent.argv = [a for a in agent.argv if a not in ("--server", "")]
    agent.start()
    try:
        wait_until(lambda: root_qdisc(lab.host, vm.device).get("kind") == "tbf", 20,
                 "the Keystone-authenticated agent to shape its port")
        state = wait_until(lambda: (s := admin.get(f"/ports/{port['id']}").json()["port"][
            "netqos:qos_state"])["applied_revision"] == s["desired_revision"] and s, 15,
            "the agent's report")
        assert state["applied_revision"] >= 1
    finally:
        agent.stop()

    token = keystone_cloud.token(f"netqos-agent-{host}")
    agent_http = httpx.Client(base_url=keystone_netqos.url + "/v2.0/netqos", timeout=30,
                              headers={"X-Auth-Token": token})
    mine = agent_http.get(f"/hosts/{host}/ports")
    assert mine.status_code == 200 and [p["port_id"] for p in mine.json()["ports"]] == [
        port["id"]]
    for path in (f"/hosts/{other}/ports", f"/hosts/{other}/routers",
                 f"/hosts/{other}/revision"):
        assert agent_http.get(path).status_code == 403, path
    resp = agent_http.post(f"/hosts/{other}/report", json={"report": {"ports": []}})
    assert resp.status_code == 403
    # Its identity is the host's, nothing more: no policy of any project to change.
    resp = httpx.post(keystone_netqos.url + "/v2.0/qos/policies", timeout=30,
                      headers={"X-Auth-Token": token}, json={"policy": {"name": "x"}})
    assert resp.status_code == 403
    admin.delete(f"/ports/{port['id']}")
    admin.delete(f"/networks/{net['id']}")
    admin.delete(f"/qos/policies/{policy['id']}")
