"""The pieces of scoped credentials, without a server: host-bound identities, token file
entries, the agent's token source, what counts as loopback."""
from __future__ import annotations

import pytest

from netqos.agent.client import TokenError, read_token
from netqos.api.auth import TokenFileError, identity
from netqos.cli.server_cmds import is_loopback
from netqos.service.context import Context


def test_a_host_credential_acts_for_its_host_only():
    agent = Context.for_host("compute-1")
    assert agent.acts_for_host("compute-1")
    assert not agent.acts_for_host("compute-2")
    assert not agent.is_admin and not agent.owns("")
    assert not agent.allowed("create_network", {"project_id": ""})
    assert Context.admin().acts_for_host("compute-2")
    member = Context("p", "u", frozenset({"member"}))
    assert not member.acts_for_host("compute-1")
    # A host binding outranks any role it is given: never an admin.
    bound_admin = Context("p", "u", frozenset({"admin", "agent"}), host="compute-1")
    assert not bound_admin.is_admin and not bound_admin.acts_for_host("compute-2")
    # ... and no policy rule sees its roles either.
    assert not bound_admin.allowed("create_policy", {"project_id": "p"})


def test_token_file_entries():
    assert identity("t1", {"roles": ["agent"], "host": "c1"}) == Context(
        "", "netqos-agent@c1", frozenset({"agent"}), "c1")
    assert identity("t2", {"project_id": "p", "roles": ["Admin"]}).is_admin
    assert identity("t3", {"project_id": 7}).roles == {"member"}
    for entry in ({"roles": ["agent"]}, {"roles": ["admin"], "host": "c1"},
                  {"roles": ["member"]}, {"project_id": "p", "roles": "admin"}, ["x"]):
        with pytest.raises(TokenFileError):
            identity("t4", entry)


def test_agent_token_from_file_then_environment(tmp_path):
    path = tmp_path / "token"
    path.write_text("  abc  \n")
    assert read_token(str(path), env={"NETQOS_AUTH_TOKEN": "env"}) == "abc"
    assert read_token(None, env={"NETQOS_AUTH_TOKEN": "env"}) == "env"
    assert read_token(None, env={}) is None
    with pytest.raises(TokenError, match="cannot read"):
        read_token(str(tmp_path / "absent"), env={})
    path.write_text("\n")
    with pytest.raises(TokenError, match="empty"):
        read_token(str(path), env={})


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("api.example", False),
    ("", False),
])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback
