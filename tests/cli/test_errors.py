"""Exit codes scripts rely on (0 ok, 1 refused, 2 usage, 3 cannot connect) and readable
messages: the server's NeutronError text, never a traceback."""
from __future__ import annotations

from tests.cli.conftest import ok, run_netqos, uniq
from tests.harness.util import free_port


def _refused(res, *texts):
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr and res.stderr.startswith("netqos: error: "), res
    for text in texts:
        assert text in res.stderr, res


def test_server_refusals_exit_1_with_its_message(nq, http):
    _refused(nq("policy", "show", "no-such-policy"), "no QoS policy named")
    _refused(nq("policy", "show", "00000000-0000-4000-8000-000000000000"),
             "no QoS policy")
    name = uniq("p")
    ok(nq("policy", "create", name))
    ok(nq("rule", "add", name, "--type", "bw-limit", "--max", "10mbit"))
    _refused(nq("rule", "add", name, "--type", "bw-limit", "--max", "20mbit"),
             "QoSRulesConflict", "HTTP 409")
    ok(nq("rule", "add", name, "--type", "min-bw", "--min", "5mbit"))
    _refused(nq("rule", "set", name, "--type", "bw-limit", "--max", "1mbit"),
             "QoSRuleParameterConflict")
    other = uniq("q")
    ok(nq("policy", "create", other, "--default"))
    _refused(nq("policy", "create", uniq("r"), "--default"),
             "QoSPolicyDefaultAlreadyExists")
    ok(nq("policy", "set", other, "--no-default"))
    # a member of another project may not write; the server's 403 message comes through
    _refused(nq("policy", "create", uniq("m"), "--project-id", "proj-x", "--roles", "member"),
             "HTTP 403")


def test_usage_errors_exit_2(nq):
    for argv, text in (
            (("rule", "add", "x", "--type", "bw-limit", "--max", "100mbps"), "ambiguous"),
            (("rule", "add", "x", "--type", "bw-limit", "--max", "fast"), "not a bit rate"),
            (("rule", "add", "x", "--type", "dscp", "--dscp", "27"), "not allowed"),
            (("rule", "add", "x", "--type", "warp"), "unknown rule type"),
            (("rule", "add", "x", "--max", "1mbit"), "--type"),
            (("policy", "frobnicate"), "invalid choice"),
            (("port", "set", "p1"), "--policy"),
            (("policy", "list", "-f", "xml"), "invalid choice")):
        res = nq(*argv)
        assert res.returncode == 2, res
        assert text in res.stderr and "Traceback" not in res.stderr, res
    name = uniq("u")
    ok(nq("policy", "create", name))
    for argv, text in (
            (("rule", "add", name, "--type", "bw-limit"), "need --max"),
            (("rule", "add", name, "--type", "dscp", "--dscp", "EF", "--direction", "in"),
             "no direction"),
            (("rule", "add", name, "--type", "min-bw", "--max", "1mbit"),
             "--max does not apply"),
            (("rule", "delete", name, "--type", "bw-limit"), "has no bw-limit rule"),
            (("policy", "set", name), "nothing to change")):
        res = nq(*argv)
        assert res.returncode == 2, res
        assert text in res.stderr and "Traceback" not in res.stderr, res


def test_cannot_connect_exits_3(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    for argv in (("policy", "list"), ("agent", "list"), ("port", "set", "p", "--policy", "x")):
        res = run_netqos(*argv, url=url, env={"HOME": str(tmp_path)})
        assert res.returncode == 3, res
        assert "cannot connect to the netqos server at " + url in res.stderr, res
        assert "Traceback" not in res.stderr


def test_settings_from_openstack_variables_and_config_file(sqlite_server, tmp_path):
    name = uniq("env")
    env = {"HOME": str(tmp_path), "OS_ENDPOINT": sqlite_server.url}
    ok(run_netqos("policy", "create", name, env=env))
    ok(run_netqos("policy", "delete", name, env=env))
    conf = tmp_path / ".config" / "netqos" / "client.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(f"[client]\nurl = {sqlite_server.url}\nproject_id = cli-conf-project\n"
                    "roles = manager\n")
    created = ok(run_netqos("policy", "create", uniq("conf"), "-f", "json",
                            env={"HOME": str(tmp_path)})).json()
    assert created["project_id"] == "cli-conf-project"
    # the flag beats the environment, which beats the file
    res = run_netqos("--url", "http://127.0.0.1:1", "policy", "list",
                     env={"HOME": str(tmp_path), "NETQOS_URL": sqlite_server.url})
    assert res.returncode == 3, res
