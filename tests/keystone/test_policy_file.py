"""An operator's policy.yaml, in Neutron's rule names, changes what Keystone users may do
(live: oslo.policy reloads the file when it changes)."""
from __future__ import annotations

import os
import time
import uuid

import pytest

pytestmark = pytest.mark.keystone
POLICIES = "/v2.0/qos/policies"


def rewrite(path, text: str) -> None:
    path.write_text(text)
    stamp = time.time() + 1   # a new mtime even within the file system's granularity
    os.utime(path, (stamp, stamp))


def test_members_may_create_policies_once_policy_yaml_says_so(as_user, keystone_netqos):
    member = as_user("alpha-member")
    body = {"policy": {"name": "by-member-" + uuid.uuid4().hex[:6]}}
    assert member.post(POLICIES, json=body).status_code == 403
    rewrite(keystone_netqos.policy_file,
            '"create_policy": "rule:admin_only or (role:member and project_id:%(project_id)s)"\n'
            '"get_rule_type": "rule:admin_only"\n')
    try:
        resp = member.post(POLICIES, json=body)
        assert resp.status_code == 201, resp.text
        policy = resp.json()["policy"]
        # Only the named rules changed: deleting is still the manager's.
        assert member.delete(f"{POLICIES}/{policy['id']}").status_code == 403
        assert as_user("alpha-manager").delete(f"{POLICIES}/{policy['id']}").status_code == 204
        # And a rule can be narrowed too: the rule-type list is now for admins.
        assert member.get("/v2.0/qos/rule-types").status_code == 403
        assert as_user("alpha-admin").get("/v2.0/qos/rule-types").status_code == 200
    finally:
        rewrite(keystone_netqos.policy_file, "{}\n")
    assert member.post(POLICIES, json=body).status_code == 403
    assert member.get("/v2.0/qos/rule-types").status_code == 200
