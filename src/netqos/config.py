"""Settings, from (lowest to highest precedence) defaults, a config file, the environment
(NETQOS_<NAME>) and command-line flags.

The config file is INI with a [netqos] section whose keys are the setting names below; it
is found at --config, $NETQOS_CONFIG or /etc/netqos/netqos.conf. Keystone's settings may
also sit in a [keystone_authtoken] section under their usual names (auth_url, username,
password, ...): there they are the keystone_* settings below (env NETQOS_KEYSTONE_<NAME>).
"""
from __future__ import annotations

import configparser
import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs

from netqos.qos.backends import DEFAULT_LOADED

DEFAULT_CONFIG = Path("/etc/netqos/netqos.conf")


def default_database() -> str:
    data = Path(platformdirs.user_data_dir("netqos"))
    return f"sqlite:///{data / 'netqos.sqlite'}"


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1:9696"
    database: str = dataclasses.field(default_factory=default_database)
    auth: str = "noauth"                 # noauth | tokens | keystone
    token_file: str | None = None
    policy_file: str | None = None       # an operator's policy.yaml over Neutron's defaults
    # --auth keystone: the service user that validates tokens ([keystone_authtoken]).
    keystone_auth_url: str | None = None
    keystone_www_authenticate_uri: str | None = None
    keystone_username: str | None = None
    keystone_password: str | None = None    # from the file or the environment only
    keystone_project_name: str = "service"
    keystone_user_domain_name: str = "Default"
    keystone_project_domain_name: str = "Default"
    keystone_region_name: str | None = None
    keystone_token_cache_time: int = 300    # seconds before a cached token is re-checked
    keystone_agent_users: str | None = None  # "user:host,..." agents' service users
    insecure_noauth: bool = False        # let noauth listen beyond loopback (never do)
    max_body_size: int = 1 << 20         # bytes; a larger request body is a 413
    workers: int = 1
    backends: tuple[str, ...] = DEFAULT_LOADED   # loaded backends, for rule-types
    transport_url: str | None = None     # rabbit://user:pass@host:5672/ (cluster mode)
    log_level: str = "info"
    config: str | None = None
    # Network segments, named as Neutron's ML2 options (comma-separated lists):
    tenant_network_types: tuple[str, ...] = ("vxlan",)   # tried in order for tenant networks
    vni_ranges: tuple[str, ...] = ("1:16777215",)        # VXLAN ids for tenant networks
    tunnel_id_ranges: tuple[str, ...] = ()               # GRE keys for tenant networks
    network_vlan_ranges: tuple[str, ...] = ()            # physnet[:first:last]
    flat_networks: tuple[str, ...] = ("*",)              # physnets flat networks may use
    global_physnet_mtu: int = 1500              # underlay MTU (VXLAN: minus 50, GRE: 42)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    @classmethod
    def load(cls, flags: dict | None = None, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        path = flags.get("config") or env.get("NETQOS_CONFIG")
        merged: dict = {}
        merged.update(_from_file(Path(path) if path else DEFAULT_CONFIG, required=bool(path)))
        merged.update(_from_env(env))
        merged.update({k: v for k, v in flags.items() if k in _names()})
        return cls(**{k: _convert(k, v) for k, v in merged.items()})

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.load()

    def to_env(self) -> dict[str, str]:
        """The settings as NETQOS_* variables, for worker processes to read back."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out["NETQOS_" + f.name.upper()] = ",".join(value) if isinstance(
                    value, tuple) else str(value)
        return out


def _names() -> set[str]:
    return {f.name for f in fields(Settings)}


def _from_file(path: Path, required: bool) -> dict:
    if not path.exists():
        if required:
            raise FileNotFoundError(f"config file {path} does not exist")
        return {}
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["netqos"] if parser.has_section("netqos") else parser.defaults()
    found = {k.replace("-", "_"): v for k, v in section.items()}
    if parser.has_section("keystone_authtoken"):
        found.update({"keystone_" + k.replace("-", "_"): v
                      for k, v in parser["keystone_authtoken"].items()})
    return {k: v for k, v in found.items() if k in _names()}


def _from_env(env: dict) -> dict:
    return {name: env[f"NETQOS_{name.upper()}"] for name in _names()
            if f"NETQOS_{name.upper()}" in env}


_INTEGERS = frozenset({"workers", "global_physnet_mtu", "max_body_size",
                       "keystone_token_cache_time"})
_LISTS = frozenset({"backends", "tenant_network_types", "vni_ranges", "tunnel_id_ranges",
                    "network_vlan_ranges",
                    "flat_networks"})


def _convert(name: str, value):
    if name in _INTEGERS:
        return int(value)
    if name == "insecure_noauth" and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if name in _LISTS and isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if name in _LISTS and isinstance(value, list):
        return tuple(value)
    return value
