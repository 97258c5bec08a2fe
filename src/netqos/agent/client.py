"""The agent's view of the server: pull a host's desired state, poll its revision, report.

All calls are plain HTTP against the same API operators use (the /v2.0/netqos/hosts
endpoints), so an agent needs nothing but the server's URL and, with token auth, a token.
"""
from __future__ import annotations

import httpx

from netqos.agent import discover, trust
from netqos.agent.model import PortQos


class ServerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        headers = {"X-Auth-Token": token} if token else {}
        self.refused: list[trust.Refused] = []   # of the last pull, reported as ERROR
        self.http = httpx.Client(base_url=url.rstrip("/") + "/v2.0/netqos", headers=headers,
                                 timeout=timeout)

    def desired(self, host: str) -> tuple[int, list[PortQos]]:
        """(host revision, the host's ports that pass the agent's checks); the others
        are in `refused` until the next pull."""
        doc = self._json("GET", f"/hosts/{host}/ports")
        ports, refused = trust.decode_all(doc.get("ports"), PortQos.from_wire, "port_id",
                                          "ports")
        ports, shared = trust.unshared_devices(ports, discover.candidate_devices)
        self.refused = refused + shared
        return self._revision(doc), ports

    def routers(self, host: str) -> tuple[int, list]:
        """The L3 role's desired state: routers whose gateway is bound to `host`."""
        from netqos.agent.l3.model import RouterQos

        doc = self._json("GET", f"/hosts/{host}/routers")
        routers, self.refused = trust.decode_all(doc.get("routers"), RouterQos.from_wire,
                                                 "gw_port_id", "routers")
        return self._revision(doc), routers

    def revision(self, host: str) -> int:
        return self._revision(self._json("GET", f"/hosts/{host}/revision"))

    @staticmethod
    def _revision(doc: dict) -> int:
        return trust.integer(trust.record(doc, "response").get("revision"), "revision",
                             maximum=trust.MAX_REVISION)

    def report(self, host: str, agent: dict | None, ports: list[dict]) -> None:
        self._json("POST", f"/hosts/{host}/report", {"report": {"agent": agent,
                                                                "ports": ports}})

    def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.http.close()
