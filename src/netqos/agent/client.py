"""The agent's view of the server: pull a host's desired state, poll its revision, report.

All calls are plain HTTP against the same API operators use (the /v2.0/netqos/hosts
endpoints), so an agent needs nothing but the server's URL and, with token auth, a token
(or, in a Keystone cloud, its service user's credentials).
"""
from __future__ import annotations

import httpx

from netqos.agent.model import PortQos


class ServerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0,
                 auth: httpx.Auth | None = None):
        """`token`: a fixed X-Auth-Token (tokens mode); `auth`: one that renews itself
        (agent/keystone_auth.py)."""
        headers = {"X-Auth-Token": token} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/") + "/v2.0/netqos", headers=headers,
                                 timeout=timeout, auth=auth)

    def desired(self, host: str) -> tuple[int, list[PortQos]]:
        doc = self._json("GET", f"/hosts/{host}/ports")
        return doc["revision"], [PortQos.from_wire(p) for p in doc["ports"]]

    def routers(self, host: str) -> tuple[int, list]:
        """The L3 role's desired state: routers whose gateway is bound to `host`."""
        from netqos.agent.l3.model import RouterQos

        doc = self._json("GET", f"/hosts/{host}/routers")
        return doc["revision"], [RouterQos.from_wire(r) for r in doc["routers"]]

    def revision(self, host: str) -> int:
        return self._json("GET", f"/hosts/{host}/revision")["revision"]

    def report(self, host: str, agent: dict | None, ports: list[dict]) -> None:
        self._json("POST", f"/hosts/{host}/report", {"report": {"agent": agent,
                                                                "ports": ports}})

    def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.http.close()
