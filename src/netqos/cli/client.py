"""The CLI's HTTP client: where the server is, who we are, and errors scripts can rely on.

Settings, lowest to highest precedence:
  1. a config file: --config, $NETQOS_CLIENT_CONFIG, else ~/.config/netqos/client.conf
     (INI, section [client]: url, token, project_id, user_id, roles, timeout)
  2. openstackclient's variables: OS_ENDPOINT (or OS_URL), OS_TOKEN, OS_PROJECT_ID, OS_USER_ID
  3. netqos's own: NETQOS_URL, NETQOS_TOKEN
  4. flags: --url/--os-endpoint, --token/--os-token, --project-id/--os-project-id, --roles
The default URL is http://127.0.0.1:9696. A token goes in X-Auth-Token (tokens mode);
project/user/roles go in keystonemiddleware's headers (noauth mode acts on them).

Exit codes: 0 ok, 1 the server said no (its NeutronError message is printed), 2 usage,
3 cannot connect.
"""
from __future__ import annotations

import argparse
import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

DEFAULT_URL = "http://127.0.0.1:9696"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3


class CliError(Exception):
    exit_code = EXIT_REFUSED


class ApiError(CliError):
    """The server answered with an error (its NeutronError, or the HTTP reason)."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status} {self.kind})" if self.kind else \
            f"{self.message} (HTTP {self.status})"


class NotFound(CliError):
    pass


class Ambiguous(CliError):
    pass


class UsageError(CliError):
    exit_code = EXIT_USAGE


class CannotConnect(CliError):
    exit_code = EXIT_CONNECT


@dataclass
class ClientSettings:
    url: str = DEFAULT_URL
    token: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    roles: str | None = None
    timeout: float = 30.0

    @classmethod
    def load(cls, flags: dict | None = None, env: dict | None = None) -> "ClientSettings":
        env = dict(os.environ if env is None else env)
        flags = flags or {}
        values: dict = {}
        path = flags.get("config") or env.get("NETQOS_CLIENT_CONFIG")
        default = Path(os.path.expanduser("~/.config/netqos/client.conf"))
        values.update(_from_file(Path(path) if path else default, required=bool(path)))
        for key, names in (("url", ("OS_ENDPOINT", "OS_URL", "NETQOS_URL")),
                           ("token", ("OS_TOKEN", "NETQOS_TOKEN")),
                           ("project_id", ("OS_PROJECT_ID",)),
                           ("user_id", ("OS_USER_ID",)),
                           ("roles", ("NETQOS_ROLES",))):
            for name in names:        # later names win: netqos's own over OS_*
                if env.get(name):
                    values[key] = env[name]
        for key in ("url", "token", "project_id", "user_id", "roles", "timeout"):
            if flags.get(key) is not None:
                values[key] = flags[key]
        if "timeout" in values:
            values["timeout"] = float(values["timeout"])
        return cls(**values)

    def headers(self) -> dict[str, str]:
        h = {}
        if self.token:
            h["X-Auth-Token"] = self.token
        if self.project_id:
            h["X-Project-Id"] = self.project_id
        if self.user_id:
            h["X-User-Id"] = self.user_id
        if self.roles:
            h["X-Roles"] = self.roles
        return h


def _from_file(path: Path, required: bool) -> dict:
    if not path.exists():
        if required:
            raise UsageError(f"config file {path} does not exist")
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise UsageError(f"config file {path}: {exc}") from None
    if not parser.has_section("client"):
        return {}
    keys = ("url", "token", "project_id", "user_id", "roles", "timeout")
    return {k: v for k, v in parser["client"].items() if k in keys}


def add_connection_flags(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """On the top-level parser (defaults None) and again on each subcommand (defaults
    suppressed, so `netqos --url U policy list` and `netqos policy list --url U` both work)."""
    d = {"default": argparse.SUPPRESS} if suppress else {"default": None}
    g = p.add_argument_group("connection (also env NETQOS_URL/OS_ENDPOINT, OS_TOKEN, "
                             "OS_PROJECT_ID, or ~/.config/netqos/client.conf)")
    g.add_argument("--url", "--os-endpoint", dest="url", metavar="URL",
                   help=f"server URL ({DEFAULT_URL})", **d)
    g.add_argument("--token", "--os-token", dest="token", metavar="TOKEN",
                   help="X-Auth-Token for a server in tokens mode", **d)
    g.add_argument("--project-id", "--os-project-id", dest="project_id", metavar="ID",
                   help="act as this project (noauth: X-Project-Id)", **d)
    g.add_argument("--roles", help="noauth: the roles to act with, e.g. member,reader", **d)
    g.add_argument("--client-config", dest="client_config", metavar="FILE",
                   help="client config file (INI, [client] section)", **d)
    g.add_argument("--timeout", type=float, help="seconds per request (30)", **d)


def settings_from(args: argparse.Namespace) -> ClientSettings:
    flags = {k: getattr(args, k, None) for k in ("url", "token", "project_id", "roles",
                                                 "timeout")}
    flags["config"] = getattr(args, "client_config", None)
    return ClientSettings.load(flags)


# kind -> (collection path, key, plural key, the field a name matches, label)
KINDS = {
    "policy": ("/v2.0/qos/policies", "policy", "policies", "name", "QoS policy"),
    "port": ("/v2.0/ports", "port", "ports", "name", "port"),
    "network": ("/v2.0/networks", "network", "networks", "name", "network"),
    "floatingip": ("/v2.0/floatingips", "floatingip", "floatingips", "floating_ip_address",
                   "floating IP"),
    "router": ("/v2.0/routers", "router", "routers", "name", "router"),
}


class Api:
    """Neutron v2.0 JSON over httpx, with errors turned into CliError."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings
        self.http = httpx.Client(base_url=settings.url.rstrip("/"), headers=settings.headers(),
                                 timeout=settings.timeout)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Api":
        return cls(settings_from(args))

    def request(self, method: str, path: str, body: dict | None = None,
                params=None) -> dict | None:
        try:
            response = self.http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise CannotConnect(f"cannot connect to the netqos server at {self.settings.url}: "
                                f"{exc or type(exc).__name__} (set --url or NETQOS_URL)"
                                ) from None
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{method} {path}: the server sent a body that is not JSON "
                           f"(HTTP {response.status_code}); is {self.settings.url} a netqos "
                           f"server?") from None

    def get(self, path: str, params=None) -> dict:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body)

    def put(self, path: str, body: dict) -> dict:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    # --- name resolution --------------------------------------------------------------
    def find(self, kind: str, name_or_id: str) -> dict:
        """The one resource of `kind` (policy, port, network, floatingip, router) with this
        id, name (floating IP: address) or unambiguous id prefix. Several with the same
        name -> Ambiguous, listing the candidates."""
        path, key, plural, name_field, label = KINDS[kind]
        if UUID.match(name_or_id):
            try:
                return self.get(f"{path}/{name_or_id}")[key]
            except ApiError as exc:
                if exc.status != 404:
                    raise
        found = self.get(path, params={name_field: name_or_id})[plural]
        if not found and len(name_or_id) >= 4 and re.fullmatch(r"[0-9a-f-]+", name_or_id, re.I):
            rows = self.get(path, params={"fields": ["id", name_field, "project_id"]})[plural]
            found = [r for r in rows if r["id"].startswith(name_or_id.lower())]
            if len(found) == 1:
                return self.get(f"{path}/{found[0]['id']}")[key]
        if not found:
            raise NotFound(f"no {label} named or with id {name_or_id!r}")
        if len(found) > 1:
            rows = "\n".join(f"  {r['id']}  {r.get(name_field) or '-'}  (project "
                             f"{r.get('project_id', '?')})" for r in found)
            plural_label = label[:-1] + "ies" if label.endswith("y") else label + "s"
            raise Ambiguous(f"{len(found)} {plural_label} match {name_or_id!r}; "
                            f"give an id:\n{rows}")
        return found[0]

    def close(self) -> None:
        self.http.close()


def _error(response: httpx.Response) -> ApiError:
    kind, message = "", response.reason_phrase or "error"
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        err = doc.get("NeutronError")
        if isinstance(err, dict):
            kind, message = err.get("type") or "", err.get("message") or message
        elif isinstance(doc.get("detail"), str):
            message = doc["detail"]
    return ApiError(response.status_code, kind, message)
