"""A private, real Keystone for the tests: Keystone from PyPI in its own venv
(`.venv-keystone`, made by `make .venv-keystone/.installed`), on SQLite with fernet
tokens, served by gunicorn on 127.0.0.1.

    ks = KeystoneServer(); ks.start()          # db_sync, fernet/credential keys, bootstrap
    ks.url                                      # http://127.0.0.1:PORT/v3
    ks.stop(); ks.start()                       # an outage: same port, same database

`Cloud` (below) then fills it as a cloud operator would: projects, users with roles,
a service user for netqos and the `network` service in the catalog.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .util import free_port, stop_process, tail, wait_for

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("NETQOS_KEYSTONE_VENV", REPO / ".venv-keystone"))
REGION = "RegionOne"
DOMAIN = "Default"

CONFIG = """\
[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///{dir}/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = {dir}/fernet-keys
[fernet_receipts]
key_repository = {dir}/fernet-keys
[credential]
key_repository = {dir}/credential-keys
[identity]
# A test cloud: cheap password hashes keep every authentication fast.
password_hash_algorithm = bcrypt
password_hash_rounds = 4
[cache]
enabled = false
[oslo_policy]
enforce_new_defaults = true
enforce_scope = true
"""


def installed() -> bool:
    return (VENV / "bin" / "keystone-manage").exists() and (VENV / "bin" / "gunicorn").exists()


class KeystoneServer:
    start_timeout = 60

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="nq-keystone-"))
        self.admin_password = secrets.token_urlsafe(12)
        self.config = self.dir / "keystone.conf"
        self.config.write_text(CONFIG.format(dir=self.dir))
        self.logfile = self.dir / "keystone.log"
        self.proc: subprocess.Popen | None = None
        self._initialised = False
        atexit.register(self.destroy)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/v3"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_KEYSTONE_CONFIG_FILES"] = str(self.config)
        return env

    def manage(self, *args: str) -> subprocess.Popen:
        cmd = [str(VENV / "bin" / "keystone-manage"), "--config-file", str(self.config), *args]
        with open(self.logfile, "ab") as log:
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self._env())

    def _initialise(self) -> None:
        # The key repositories do not need the database: made while db_sync runs.
        owner = ("--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid()))
        steps = [self.manage("db_sync"), self.manage("fernet_setup", *owner),
                 self.manage("credential_setup", *owner)]
        self._wait(*steps)
        self._wait(self.manage("bootstrap", "--bootstrap-password", self.admin_password,
                    "--bootstrap-admin-url", self.url, "--bootstrap-public-url", self.url,
                    "--bootstrap-internal-url", self.url, "--bootstrap-region-id", REGION))
        self._initialised = True

    def _wait(self, *procs: subprocess.Popen) -> None:
        for proc in procs:
            if proc.wait(300) != 0:
                raise RuntimeError(f"{' '.join(proc.args[3:])} failed:\n{tail(self.logfile)}")

    def start(self) -> "KeystoneServer":
        if not self._initialised:
            self._initialise()
        cmd = [str(VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{self.port}",
               "--workers", "1", "--threads", "4", "--worker-class", "gthread",
               "--timeout", "120", "--no-control-socket",
               "--pythonpath", str(Path(__file__).parent / "wsgi"), "keystone_app:application"]
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self._env(),
                                         cwd=self.dir)
        if not wait_for(self._answers, self.start_timeout, interval=0.2):
            self.stop()
            raise RuntimeError(f"Keystone did not answer on {self.url}:\n{tail(self.logfile)}")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"Keystone exited with {self.proc.returncode}:\n"
                               f"{tail(self.logfile)}")
        try:
            return httpx.get(self.url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, grace=15)
        self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- a cloud in it ---------------------------------------------------------------

ROLES = ("admin", "manager", "member", "reader")
PROJECTS = ("alpha", "beta")
SERVICE_PROJECT = "service"


class Cloud:
    """Keystone filled as an operator would for netqos: projects alpha and beta, each with
    a user per role (`alpha-manager`, ...), the `service` project with netqos's service
    user and one agent user per host, and `network` in the catalog once register_network()
    knows netqos's URL. Talks to Keystone through the real openstacksdk, as the admin."""

    def __init__(self, server: KeystoneServer):
        import openstack

        self.server = server
        self.passwords: dict[str, str] = {}
        self.project_ids: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        self.user_projects: dict[str, str] = {}
        self.admin = openstack.connect(
            auth_url=server.url, username="admin", password=server.admin_password,
            project_name="admin", user_domain_name=DOMAIN, project_domain_name=DOMAIN,
            region_name=REGION, load_yaml_config=False, load_envvars=False)
        self.identity = self.admin.identity
        self.role_ids = {r.name: r.id for r in self.identity.roles()}
        self.project_ids["admin"] = self.identity.find_project("admin").id
        for project in (*PROJECTS, SERVICE_PROJECT):
            self.project_ids[project] = self.identity.create_project(
                name=project, domain_id="default").id
        # Users one by one cost a Keystone round trip each: four at a time.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda pr: self.add_user(f"{pr[0]}-{pr[1]}", *pr),
                          [(p, r) for p in PROJECTS for r in ROLES]))

    def add_user(self, name: str, project: str, role: str) -> str:
        password = secrets.token_urlsafe(12)
        user = self.identity.create_user(name=name, password=password, domain_id="default",
                                         default_project_id=self.project_ids[project])
        self.identity.assign_project_role_to_user(self.project_ids[project], user,
                                                  self.role_ids[role])
        self.passwords[name], self.user_ids[name] = password, user.id
        self.user_projects[name] = project
        return password

    def service_user(self, name: str) -> str:
        """A user with the `service` role in the service project (as Neutron's own)."""
        return self.add_user(name, SERVICE_PROJECT, "service")

    def register_network(self, url: str) -> None:
        service = self.identity.create_service(name="netqos", type="network",
                                               description="netqos: Neutron-compatible QoS")
        for interface in ("public", "internal", "admin"):
            self.identity.create_endpoint(service_id=service.id, interface=interface,
                                          url=url, region_id=REGION)

    def auth(self, user: str) -> dict:
        """openstacksdk / clouds.yaml auth for a user, scoped to its project."""
        return {"auth_url": self.server.url, "username": user, "password": self.passwords[user],
                "project_name": self.user_projects[user], "user_domain_name": DOMAIN,
                "project_domain_name": DOMAIN}

    def token(self, user: str) -> str:
        """A fresh project-scoped token for the user (password auth, POST /v3/auth/tokens)."""
        a = self.auth(user)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": DOMAIN}, "password": a["password"]}}},
            "scope": {"project": {"name": a["project_name"], "domain": {"name": DOMAIN}}}}}
        resp = httpx.post(self.server.url + "/auth/tokens", json=body, timeout=30)
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def revoke(self, token: str) -> None:
        resp = httpx.delete(self.server.url + "/auth/tokens", timeout=30, headers={
            "X-Auth-Token": self.token_of_admin(), "X-Subject-Token": token})
        assert resp.status_code == 204, resp.text

    def token_of_admin(self) -> str:
        return self.admin.session.get_token()

    def short_lived_token(self, user: str, seconds: int) -> str:
        """A token that expires in `seconds`: Keystone caps the tokens of an application
        credential at the credential's own expiry."""
        import datetime as dt

        token = self.token(user)
        expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds))
        resp = httpx.post(f"{self.server.url}/users/{self.user_ids[user]}/application_credentials",
                          headers={"X-Auth-Token": token}, timeout=30, json={
                              "application_credential": {
                                  "name": "short-" + secrets.token_hex(4),
                                  "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S")}})
        resp.raise_for_status()
        cred = resp.json()["application_credential"]
        resp = httpx.post(self.server.url + "/auth/tokens", timeout=30, json={"auth": {
            "identity": {"methods": ["application_credential"], "application_credential": {
                "id": cred["id"], "secret": cred["secret"]}}}})
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def close(self) -> None:
        self.admin.close()
