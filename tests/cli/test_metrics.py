"""The server's /metrics moves with the requests the CLI makes; /docs still renders."""
from __future__ import annotations

import httpx

from tests.cli.conftest import metric, ok, scrape, uniq


def test_server_metrics_count_requests_and_state(nq, sqlite_server):
    url = sqlite_server.url + "/metrics"
    before = scrape(url)
    name = uniq("m")
    ok(nq("policy", "create", name))
    ok(nq("rule", "add", name, "--type", "bw-limit", "--max", "5mbit"))
    assert nq("policy", "show", "00000000-0000-4000-8000-00000000dead").returncode == 1
    after = scrape(url)

    def delta(name, **labels):
        return (metric(after, name, **labels) or 0) - (metric(before, name, **labels) or 0)

    route = "/v2.0/qos/policies"
    assert delta("netqos_http_requests_total", method="POST", route=route, status="201") >= 1
    assert delta("netqos_http_requests_total", method="GET", route=route + "/{obj_id}",
                 status="404") >= 1
    assert delta("netqos_http_request_duration_seconds_count", method="POST",
                 route=route) >= 1
    assert delta("netqos_qos_policies") >= 1
    assert delta("netqos_qos_rules", type="bandwidth_limit") >= 1
    for status in ("ACTIVE", "BUILD", "DOWN", "ERROR"):
        assert metric(after, "netqos_ports", status=status) is not None
    # Unknown paths are one label value, not one per path.
    httpx.get(sqlite_server.url + "/nope/" + uniq("x"))
    assert metric(scrape(url), "netqos_http_requests_total", route="(unmatched)") >= 1
    ok(nq("policy", "delete", name))


def test_openapi_docs_render(sqlite_server):
    docs = httpx.get(sqlite_server.url + "/docs", timeout=10)
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    spec = httpx.get(sqlite_server.url + "/openapi.json", timeout=10).json()
    assert "/v2.0/qos/policies" in spec["paths"] and "/metrics" not in spec["paths"]
