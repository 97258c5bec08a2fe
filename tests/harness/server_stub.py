"""A stand-in for the netqos server's host endpoints, to feed a real agent any payload.

It serves what the test puts in `ports` / `routers` (raw JSON-able values, hostile ones
included: the point is to send what the real server would refuse) at
GET /v2.0/netqos/hosts/{host}/ports, /routers and /revision, and records every
POST /v2.0/netqos/hosts/{host}/report. Bound to 127.0.0.1 on a free port, in a thread.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ServerStub:
    def __init__(self, host: str):
        self.host = host
        self.revision = 1
        self.ports: list = []
        self.routers: list = []
        self.reports: list[dict] = []       # every report body, in arrival order
        self.pulls = 0                      # GETs of ports or routers
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> "ServerStub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()

    def publish(self, ports: list | None = None, routers: list | None = None) -> None:
        """Change what is served and raise the revision (the agent's poll notices)."""
        with self._lock:
            if ports is not None:
                self.ports = ports
            if routers is not None:
                self.routers = routers
            self.revision += 1

    def port_status(self) -> dict[str, dict]:
        """The last status reported per port id."""
        with self._lock:
            last: dict[str, dict] = {}
            for body in self.reports:
                for entry in (body.get("report") or {}).get("ports") or ():
                    last[entry["port_id"]] = entry
            return last

    def heartbeats(self) -> int:
        with self._lock:
            return sum(1 for b in self.reports if (b.get("report") or {}).get("agent"))

    def _handler(self):
        stub = self
        base = f"/v2.0/netqos/hosts/{stub.host}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:   # quiet
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with stub._lock:
                    if self.path == base + "/revision":
                        return self._send(200, {"host": stub.host, "revision": stub.revision})
                    if self.path == base + "/ports":
                        stub.pulls += 1
                        return self._send(200, {"host": stub.host, "revision": stub.revision,
                                                "ports": stub.ports})
                    if self.path == base + "/routers":
                        stub.pulls += 1
                        return self._send(200, {"host": stub.host, "revision": stub.revision,
                                                "routers": stub.routers})
                self._send(404, {"NeutronError": {"message": self.path}})

            def do_POST(self) -> None:
                if self.path != base + "/report":
                    return self._send(404, {"NeutronError": {"message": self.path}})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.reports.append(body)
                self._send(200, {"host": stub.host, "accepted": 0})

        return Handler
