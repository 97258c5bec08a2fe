"""Suite-wide policy and the fixtures that start real servers.

Fixtures (see tests/harness/ for the processes behind them):

  postgres_server    session   PostgresServer: a private PostgreSQL on 127.0.0.1
  postgres_url       session   SQLAlchemy URL of its `netqos` database
  fresh_postgres_url module    SQLAlchemy URL of a new, empty database (one per test module)
  rabbitmq_server    session   RabbitMQServer: a private broker (stop()/start() = outage)
  rabbitmq_url       session   rabbit://user:pass@127.0.0.1:PORT/
  ovs_server         function  OvsServer: a private Open vSwitch (root), fresh per test
  sqlite_server      session   ServerProcess: `netqos server` on a fresh SQLite file
  pg_server          session   ServerProcess: `netqos server` on postgres_url
  api_server         session   sqlite_server, then pg_server: API tests run on both
  api                function  httpx.Client(base_url=api_server.url, timeout=10)
  keystone_server    session   KeystoneServer: a real Keystone on 127.0.0.1 (stop()/start())
  keystone_cloud     session   keystone.Cloud: projects, users per role, service users

CI policy: with CI=true (.ci/run sets it), any skip is reported as FAILED: a test that
skips at run time (pytest.skip, a skipif marker) and a module skipped while collecting
(a module-level importorskip), so a missing package, privilege or server can never turn
the tests that matter most into a green run that tested nothing.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.harness import keystone, ovs, postgres, rabbitmq
from tests.harness.server import ServerProcess
from tests.harness.util import SUMMARY_LINES, in_ci

STRICT_MARKERS = ("dataplane", "cluster", "postgres", "keystone")

# Tests using these fixtures get the marker even if their author forgot it,
# so the CI policy above covers them.
FIXTURE_MARKERS = {
    "postgres_server": "postgres",
    "postgres_url": "postgres",
    "fresh_postgres_url": "postgres",
    "pg_server": "postgres",
    "rabbitmq_server": "cluster",
    "rabbitmq_url": "cluster",
    "ovs_server": "dataplane",
    "keystone_server": "keystone",
    "keystone_cloud": "keystone",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in item.fixturenames and not item.get_closest_marker(marker):
                item.add_marker(getattr(pytest.mark, marker))


def _skip_reason(report) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test fails: pytest.skip() in a test or fixture, a skipif marker
    (its own or the module's pytestmark), whatever the test is marked."""
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    markers = [m for m in STRICT_MARKERS if item.get_closest_marker(m)]
    kind = f"a {'/'.join(markers)} test" if markers else "a test"
    report.outcome = "failed"
    report.longrepr = f"CI=true: {kind} must run, not skip. Skip reason: {_skip_reason(report)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """In CI a module that skips itself while being collected (a module-level
    pytest.importorskip or pytest.skip(allow_module_level=True)) is a collection error,
    so its tests cannot vanish from the run unseen."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = (f"CI=true: {collector.nodeid} was skipped while collecting, so "
                           f"none of its tests ran. Skip reason: {_skip_reason(report)}")


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY_LINES:
        terminalreporter.write_line(line)


def unavailable(reason: str):
    """A needed server cannot run here: skip on a laptop, fail in CI."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# -- PostgreSQL ---------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    if postgres.find_bindir() is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
    server = postgres.PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    return postgres_server.url


@pytest.fixture(scope="module")
def fresh_postgres_url(postgres_server, request):
    """A new empty database, named after the test module for readable logs."""
    prefix = "nq_" + request.module.__name__.rsplit(".", 1)[-1][:30]
    return postgres_server.fresh_database(prefix=prefix)


# -- RabbitMQ -----------------------------------------------------------------

@pytest.fixture(scope="session")
def rabbitmq_server():
    """Shared by the session: a test that stops it must start() it again."""
    if not rabbitmq.installed():
        unavailable("rabbitmq-server not installed (apt-get install rabbitmq-server)")
    server = rabbitmq.RabbitMQServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def rabbitmq_url(rabbitmq_server):
    return rabbitmq_server.url


# -- Open vSwitch ----------------------------------------------------------------

@pytest.fixture
def ovs_server():
    """A fresh switch per test (it starts in well under a second)."""
    if os.geteuid() != 0:
        unavailable("Open vSwitch tests need root")
    if not ovs.installed():
        unavailable("openvswitch-switch not installed (apt-get install openvswitch-switch)")
    with ovs.OvsServer() as server:
        yield server


# -- the netqos API server ----------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("sqlite") / "netqos.sqlite"
    server = ServerProcess(f"sqlite:///{db}", log_dir=db.parent)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server(postgres_server, tmp_path_factory):
    server = ServerProcess(postgres_server.url, log_dir=tmp_path_factory.mktemp("pg-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def api_server(request):
    # Looked up by name so the sqlite run never starts PostgreSQL.
    return request.getfixturevalue("pg_server" if request.param == "postgresql" else "sqlite_server")


@pytest.fixture
def api(api_server):
    with httpx.Client(base_url=api_server.url, timeout=10) as client:
        yield client


# -- Keystone -----------------------------------------------------------------

@pytest.fixture(scope="session")
def keystone_server():
    """A real Keystone (its own venv: make .venv-keystone/.installed), started once."""
    if not keystone.installed():
        unavailable(f"Keystone not installed in {keystone.VENV} (make .venv-keystone/.installed)")
    server = keystone.KeystoneServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def keystone_cloud(keystone_server):
    """keystone.Cloud: projects alpha and beta with a user per role, the service project."""
    cloud = keystone.Cloud(keystone_server)
    yield cloud
    cloud.close()


AGENT_HOSTS = ("ks-h1", "ks-h2")


@pytest.fixture(scope="session")
def keystone_netqos(keystone_cloud, tmp_path_factory):
    """`netqos server --auth keystone` registered as `network` in the cloud's catalog.

    Its service user `netqos` validates tokens; `netqos-agent-<host>` are the agents of
    AGENT_HOSTS. Tokens are re-checked after 3 s (revocation tests); its policy file
    (.policy_file) starts empty, and oslo.policy reloads it when a test rewrites it."""
    work = tmp_path_factory.mktemp("keystone-netqos")
    policy_file = work / "policy.yaml"
    policy_file.write_text("{}\n")
    env = {"NETQOS_KEYSTONE_AUTH_URL": keystone_cloud.server.url,
           "NETQOS_KEYSTONE_USERNAME": "netqos",
           "NETQOS_KEYSTONE_PASSWORD": keystone_cloud.service_user("netqos"),
           "NETQOS_KEYSTONE_PROJECT_NAME": "service",
           "NETQOS_KEYSTONE_TOKEN_CACHE_TIME": "3",
           "NETQOS_KEYSTONE_AGENT_USERS": ",".join(f"netqos-agent-{h}:{h}"
                                                    for h in AGENT_HOSTS)}
    for host in AGENT_HOSTS:
        keystone_cloud.service_user(f"netqos-agent-{host}")
    server = ServerProcess(f"sqlite:///{work / 'netqos.sqlite'}", auth="keystone",
                           extra_args=("--policy-file", str(policy_file)), env=env,
                           log_dir=work)
    server.start()
    server.policy_file = policy_file
    keystone_cloud.register_network(server.url)
    yield server
    server.stop()
