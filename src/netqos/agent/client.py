"""The agent's view of the server: pull a host's desired state, poll its revision, report.

All calls are plain HTTP against the same API operators use (the /v2.0/netqos/hosts
endpoints), so an agent needs nothing but the server's URL and, with token auth, a token:
its host's credential, read from a file or the environment (`read_token`), never from the
command line, where every user of the host could read it. In a Keystone cloud, the agent
logs in as its host's service user instead (agent/keystone_auth.py).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from netqos import trust
from netqos.agent import discover
from netqos.wire import PortQos

if TYPE_CHECKING:   # imported when first used: only the L3 role reads routers
    from netqos.agent.l3.model import RouterQos

# A JSON document sent to or received from the server's host endpoints.
Doc = dict[str, Any]


TOKEN_ENV = "NETQOS_AUTH_TOKEN"


class TokenError(Exception):
    pass


def read_token(path: str | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The agent's token: the first line of `path`, else $NETQOS_AUTH_TOKEN, else None."""
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise TokenError(f"cannot read the token file {path}: {exc.strerror}") from None
        if not token:
            raise TokenError(f"the token file {path} is empty")
        return token
    return env.get(TOKEN_ENV) or None


class ServerRefused(httpx.HTTPStatusError):
    """The server answered with an error; the message carries its NeutronError."""

    @classmethod
    def of(cls, response: httpx.Response) -> "ServerRefused":
        try:
            err = response.json()["NeutronError"]
            said = f"{err['type']}: {err['message']}"
        except (ValueError, KeyError, TypeError):
            said = response.reason_phrase
        request = response.request
        return cls(f"server refused {request.method} {request.url.path}: "
                   f"{response.status_code} {said}", request=request, response=response)


class ServerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0,
                 auth: httpx.Auth | None = None):
        """`token`: a fixed X-Auth-Token (tokens mode); `auth`: one that renews itself
        (agent/keystone_auth.py)."""
        headers = {"X-Auth-Token": token} if token else {}
        self.refused: list[trust.Refused] = []   # of the last pull, reported as ERROR
        self.http = httpx.Client(base_url=url.rstrip("/") + "/v2.0/netqos", headers=headers,
                                 timeout=timeout, auth=auth)
        self.l2_block: Doc | None = None   # the last pull's "l2" block (None: no L2 here)

    def desired(self, host: str) -> tuple[int, list[PortQos]]:
        """(host revision, the host's ports that pass the agent's checks); the others
        are in `refused` until the next pull."""
        doc = self._json("GET", f"/hosts/{host}/ports")
        self.l2_block = doc.get("l2")
        ports, refused = trust.decode_all(doc.get("ports"), PortQos.from_wire, "port_id",
                                          "ports")
        ports, shared = trust.unshared_devices(ports, discover.candidate_devices)
        self.refused = refused + shared
        return self._revision(doc), ports

    def routers(self, host: str) -> tuple[int, list[RouterQos]]:
        """The L3 role's desired state: routers whose gateway is bound to `host`."""
        from netqos.agent.l3.model import RouterQos

        doc = self._json("GET", f"/hosts/{host}/routers")
        routers, self.refused = trust.decode_all(doc.get("routers"), RouterQos.from_wire,
                                                 "gw_port_id", "routers")
        return self._revision(doc), routers

    def revision(self, host: str) -> int:
        return self._revision(self._json("GET", f"/hosts/{host}/revision"))

    @staticmethod
    def _revision(doc: Doc) -> int:
        return trust.integer(trust.record(doc, "response").get("revision"), "revision",
                             maximum=trust.MAX_REVISION)

    def report(self, host: str, agent: Doc | None, ports: list[Doc]) -> None:
        self._json("POST", f"/hosts/{host}/report", {"report": {"agent": agent,
                                                                "ports": ports}})

    def counters(self, host: str, at: float, ports: list[Doc]) -> None:
        """The live per-port counters (agent/telemetry.py)."""
        self._json("POST", f"/hosts/{host}/counters", {"counters": {"at": at, "ports": ports}})

    def _json(self, method: str, path: str, body: Doc | None = None) -> Doc:
        response = self.http.request(method, path, json=body)
        if response.is_error:
            raise ServerRefused.of(response)
        doc: Doc = response.json()
        return doc

    def close(self) -> None:
        self.http.close()
