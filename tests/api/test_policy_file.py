"""noauth uses the same policy engine: an operator's policy.yaml (--policy-file) changes
what the identity headers may do, by Neutron's rule names."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import POLICIES, new_project, who
from tests.harness.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("policy-file")
    policy = work / "policy.yaml"
    policy.write_text('"create_policy": "rule:admin_only or (role:member and '
                      'project_id:%(project_id)s)"\n'
                      '"update_port:binding:host_id": "rule:admin_only or role:member"\n')
    srv = ServerProcess(f"sqlite:///{work / 'db.sqlite'}", log_dir=work,
                        extra_args=("--policy-file", str(policy)))
    srv.start()
    yield srv
    srv.stop()


def test_overrides_apply_in_noauth(server):
    h = who(new_project(), "member")
    with httpx.Client(base_url=server.url, timeout=10, headers=h) as c:
        resp = c.post(POLICIES, json={"policy": {"name": "member-made"}})
        assert resp.status_code == 201, resp.text
        # Rules the file does not name keep Neutron's default.
        resp = c.put(f"{POLICIES}/{resp.json()['policy']['id']}",
                     json={"policy": {"name": "x"}})
        assert resp.status_code == 403
        assert resp.json()["NeutronError"]["message"] == "rule:update_policy is disallowed " \
                                                        "by policy"
        net = c.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        resp = c.put(f"/v2.0/ports/{port['id']}", json={"port": {"binding:host_id": "h9"}})
        assert resp.status_code == 200 and resp.json()["port"]["binding:host_id"] == "h9"
        # create_port:binding:host_id was not overridden.
        resp = c.post("/v2.0/ports", json={"port": {"network_id": net["id"],
                                                    "binding:host_id": "h9"}})
        assert resp.status_code == 403


def test_a_missing_policy_file_stops_the_server(tmp_path):
    srv = ServerProcess(f"sqlite:///{tmp_path / 'db.sqlite'}", log_dir=tmp_path,
                        extra_args=("--policy-file", str(tmp_path / "absent.yaml")))
    with pytest.raises(RuntimeError, match="does not exist"):
        srv.start()
