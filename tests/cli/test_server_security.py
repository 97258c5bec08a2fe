"""Start-up refusals and agent credentials on the command line: noauth serves loopback only,
token files are checked before serving, an agent's token never comes from argv."""
from __future__ import annotations

import httpx
import pytest
import yaml

from tests.cli.conftest import run_netqos
from tests.harness.server import ServerProcess, token_server
from tests.harness.util import free_port


def refused(res, *words: str) -> None:
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr, res
    for word in words:
        assert word in res.stderr, res


@pytest.mark.parametrize("bind", ["0.0.0.0", "[::]", "198.18.0.1", "example.invalid"])
@pytest.mark.parametrize("command", ["server", "up"])
def test_noauth_refuses_a_non_loopback_bind(tmp_path, command, bind):
    res = run_netqos(command, "--bind", f"{bind}:{free_port()}", "--database",
                     f"sqlite:///{tmp_path / 'x.sqlite'}", timeout=30)
    refused(res, "loopback", "--insecure-noauth", "--auth tokens")
    assert not (tmp_path / "x.sqlite").exists()   # refused before anything started


def test_noauth_refusal_also_reads_the_environment(tmp_path):
    res = run_netqos("server", timeout=30, env={
        "NETQOS_BIND": f"0.0.0.0:{free_port()}", "NETQOS_AUTH": "noauth",
        "NETQOS_DATABASE": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    refused(res, "loopback")


def test_insecure_noauth_is_the_explicit_way_out(tmp_path):
    srv = ServerProcess(f"sqlite:///{tmp_path / 'x.sqlite'}", auth="noauth", log_dir=tmp_path)
    # argparse keeps the last --bind: this one, after the harness's loopback one.
    srv.extra_args = ("--insecure-noauth", "--bind", f"0.0.0.0:{srv.port}")
    with srv:
        assert httpx.get(srv.url + "/v2.0/qos/policies").status_code == 200


def test_tokens_mode_may_listen_anywhere(tmp_path):
    srv = token_server(tmp_path, {"a": {"project_id": "p", "roles": ["admin"]}})
    srv.extra_args += ("--bind", f"0.0.0.0:{srv.port}")
    with srv:
        assert httpx.get(srv.url + "/v2.0/qos/policies").status_code == 401
        assert httpx.get(srv.url + "/v2.0/qos/policies",
                         headers={"X-Auth-Token": "a"}).status_code == 200


@pytest.mark.parametrize("entry,words", [
    ({"roles": ["agent"]}, ("needs the host",)),
    ({"roles": ["agent", "admin"], "host": "h1"}, ("exactly the role",)),
    ({"roles": ["member"], "host": "h1"}, ("exactly the role",)),
    ({"roles": ["member"]}, ("project_id is missing",)),
    ({"project_id": "p", "roles": "admin"}, ("roles must be a list",)),
    ("just-a-string", ("expected a mapping",)),
])
def test_token_file_mistakes_are_refused_at_start(tmp_path, entry, words):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {"secret-1": entry}}))
    res = run_netqos("server", "--auth", "tokens", "--token-file", tokens, "--bind",
                     f"127.0.0.1:{free_port()}", "--database",
                     f"sqlite:///{tmp_path / 'x.sqlite'}", timeout=30)
    refused(res, *words)
    assert "secret-1" not in res.stderr   # a token is never printed whole


def test_token_file_missing_or_absent(tmp_path):
    base = ("server", "--auth", "tokens", "--bind", f"127.0.0.1:{free_port()}",
            "--database", f"sqlite:///{tmp_path / 'x.sqlite'}")
    refused(run_netqos(*base, timeout=30), "--token-file")
    refused(run_netqos(*base, "--token-file", tmp_path / "nope.yaml", timeout=30),
            "nope.yaml")


# -- the agent's own credential -----------------------------------------------------------

def test_agent_refuses_a_token_on_the_command_line():
    for command in ("agent", "plan"):
        res = run_netqos(command, "--host", "h", "--token", "s3cret", timeout=30)
        refused(res, "--auth-token-file", "NETQOS_AUTH_TOKEN")


def test_agent_token_file_must_be_readable(tmp_path):
    res = run_netqos("plan", "--host", "h", "--auth-token-file", tmp_path / "absent",
                     url="http://127.0.0.1:9", timeout=30)
    refused(res, "cannot read the token file")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    refused(run_netqos("plan", "--host", "h", "--auth-token-file", empty,
                       url="http://127.0.0.1:9", timeout=30), "is empty")


@pytest.fixture(scope="module")
def agent_token_server(tmp_path_factory):
    with token_server(tmp_path_factory.mktemp("agent-tokens"), {
            "t-host-a": {"roles": ["agent"], "host": "cli-host-a"}}) as srv:
        yield srv


def test_plan_with_a_host_token_from_file_or_environment(agent_token_server, tmp_path):
    url = agent_token_server.url
    token_file = tmp_path / "agent.token"
    token_file.write_text("t-host-a\n")
    token_file.chmod(0o600)
    netns = ("--netns", "nq-absent-ns")   # nothing on this host is read or changed
    res = run_netqos("plan", "--host", "cli-host-a", "--auth-token-file", token_file,
                     *netns, url=url, timeout=60)
    assert res.returncode == 0 and "at the desired state" in res.stdout, res
    res = run_netqos("plan", "--host", "cli-host-a", *netns, url=url,
                     env={"NETQOS_AUTH_TOKEN": "t-host-a"}, timeout=60)
    assert res.returncode == 0 and "at the desired state" in res.stdout, res
    # Another host's state: refused, said plainly.
    res = run_netqos("plan", "--host", "cli-host-b", "--auth-token-file", token_file,
                     *netns, url=url, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res
    assert "403 PolicyNotAuthorized" in res.stderr, res
    # No token at all: 401.
    res = run_netqos("plan", "--host", "cli-host-a", *netns, url=url, timeout=60)
    assert res.returncode == 1 and "401" in res.stderr, res


@pytest.mark.parametrize("ranges", ["0:5", "1:4294967296", "9:5"])
def test_bad_gre_key_ranges_are_refused_at_start(tmp_path, ranges):
    res = run_netqos("server", "--tunnel-id-ranges", ranges, "--bind",
                     f"127.0.0.1:{free_port()}", "--database",
                     f"sqlite:///{tmp_path / 'x.sqlite'}", timeout=30)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res   # a CliError
    assert f"bad segment setting: tunnel_id_ranges: {ranges!r} is not FIRST:LAST" \
        in res.stderr, res
