"""The console in a real browser (Debian's headless chromium): overview, policies made and
bound from the page, what a project's member sees, and a host with 1000 ports.

Each test fails if the browser console logged an error (the `page` fixture) and leaves a
screenshot under tests/artifacts/ui/.
"""
from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import start_server
from tests.ui.scenario import (CounterFeeder, create_policy, open_host_page, populate_host,
                               uniq, visit)

RENDER_BUDGET_MS = 1000


def test_policy_created_edited_and_bound_from_the_page(page, ui_server, admin):
    host = uniq("h")
    [port_id] = populate_host(admin, host, 1)
    name = uniq("gold")
    visit(page, f"{ui_server.url}/ui/#/policies")
    page.fill("#create-policy input[name=name]", name)
    page.click("#create-policy button[type=submit]")
    card = page.locator(f".policy[data-name='{name}']")
    card.wait_for()
    card.locator(".add-rule select[name=type]").select_option("bandwidth_limit")
    card.locator(".add-rule input[name=value]").fill("10mbit")
    card.locator(".add-rule select[name=direction]").select_option("ingress")
    card.locator(".add-rule button[type=submit]").click()
    page.locator(f".policy[data-name='{name}'] .rule").wait_for()
    rules = page.locator(f".policy[data-name='{name}'] .rules").inner_text()
    assert "limit in 10.0 Mbit/s" in rules

    card = page.locator(f".policy[data-name='{name}']")
    card.locator(".bind select[name=target]").select_option(f"port:{port_id}")
    card.locator(".bind button[type=submit]").click()
    page.locator(f".policy[data-name='{name}'] .bound-ports a").wait_for()

    # The API holds what the page did: the same resources any client sees.
    policy = admin.get("/v2.0/qos/policies", params={"name": name}).json()["policies"][0]
    assert [(r["type"], r["max_kbps"], r["direction"]) for r in policy["rules"]] == [
        ("bandwidth_limit", 10_000, "ingress")]
    assert admin.get(f"/v2.0/ports/{port_id}").json()["port"]["qos_policy_id"] == policy["id"]

    # Renamed and shared from the page; a policy in use cannot be deleted (the API's 409).
    card = page.locator(f".policy[data-name='{name}']")
    card.locator(".edit-policy input[name=name]").fill(name + "-v2")
    card.locator(".edit-policy input[name=shared]").check()
    card.locator(".edit-policy button[type=submit]").click()
    name += "-v2"
    expect(page.locator(f".policy[data-name='{name}'] h3")).to_contain_text("shared")
    page.expected_statuses = (409,)
    page.locator(f".policy[data-name='{name}'] .delete-policy").click()
    expect(page.locator("#message")).to_contain_text(f"is used by port {port_id}")

    # A wrong value is the API's error on the page, not a broken page.
    card = page.locator(f".policy[data-name='{name}']")
    card.locator(".edit-rule input[name=value]").fill("fast")
    card.locator(".edit-rule button[type=submit]").click()
    expect(page.locator("#message")).to_contain_text("not a valid max_kbps")

    # What the port's agent reports (an error, then a repaired drift) reaches the overview.
    desired = admin.get(f"/v2.0/ports/{port_id}").json()["port"]["netqos:qos_state"][
        "desired_revision"]
    for status, reason, drift in (("ERROR", "tc refused the shaper", None),
                                  ("ACTIVE", "", ["re-added the shaper deleted by hand"])):
        admin.post(f"/v2.0/netqos/hosts/{host}/report", json={"report": {"ports": [{
            "port_id": port_id, "revision": desired, "status": status, "reason": reason,
            "drift": drift}]}}).raise_for_status()
    # The host's agent heartbeats with its backend and uplink, as agents do.
    admin.post(f"/v2.0/netqos/hosts/{host}/report", json={"report": {"agent": {
        "backends": ["linuxtc"], "uplinks": {"eth0": 1_000_000},
        "configurations": {"heartbeat_interval": 10}}, "ports": []}}).raise_for_status()
    admin.post(f"/v2.0/qos/policies/{policy['id']}/minimum_bandwidth_rules", json={
        "minimum_bandwidth_rule": {"min_kbps": 5000}}).raise_for_status()
    visit(page, f"{ui_server.url}/ui/#/")
    card = page.locator(f".host[data-host='{host}']")
    card.wait_for()
    # The new guarantee raised the port's desired revision: pending until an agent applies.
    assert "0 enforced · 1 pending · 0 in error · 1 total" in card.inner_text()
    assert "alive · linuxtc" in card.inner_text()
    assert "uplink\neth0: 1.00 Gbit/s, 5.00 Mbit/s guaranteed" in card.inner_text()
    expect(page.locator("#events")).to_contain_text("tc refused the shaper")
    expect(page.locator("#events")).to_contain_text("re-added the shaper deleted by hand")
    visit(page, f"{ui_server.url}/ui/#/port/{port_id}")
    page.locator("#chain").wait_for()
    assert page.locator("#chain .used").inner_text().startswith(f"port policy: {name}")
    assert page.locator("#effective").inner_text() == name
    expect(page.locator("#history")).to_contain_text("re-added the shaper deleted by hand")


@pytest.fixture(scope="module")
def tokens_server(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.yaml"
    tokens.write_text(json.dumps({"tokens": {
        "tok-admin": {"project_id": "admin-p", "user_id": "root", "roles": ["admin"]},
        "tok-a": {"project_id": "project-a", "user_id": "alice", "roles": ["member"]},
        "tok-b": {"project_id": "project-b", "user_id": "bob", "roles": ["member"]}}}))
    srv = start_server(tmp_path_factory, auth="tokens", extra_args=["--token-file", str(tokens)])
    yield srv
    srv.stop()


def test_a_member_sees_only_its_project(page, tokens_server):
    url, host = tokens_server.url, uniq("shared-host")
    made = {}
    with httpx.Client(base_url=url, timeout=30, headers={"X-Auth-Token": "tok-admin"}) as root:
        for project in ("a", "b"):   # as an operator does: QoS policies are admin-made
            owner = {"project_id": f"project-{project}"}
            policy = create_policy(root, f"policy-of-{project}", 10_000, **owner)
            made[project] = {"policy": policy,
                             "ports": populate_host(root, host, 2, policy["id"], **owner)}
        everything = made["a"]["ports"] + made["b"]["ports"]
        with CounterFeeder(url, host, everything, 10_000_000,
                           headers={"X-Auth-Token": "tok-admin"}):
            page.expected_statuses = (401, 404)   # a wrong token, B's port by its URL
            visit(page, f"{url}/ui/", route="#/signin")
            page.fill("#token", "wrong")
            page.click("#token-form button[type=submit]")
            expect(page.locator("[role=alert]")).to_contain_text("not valid")
            page.fill("#token", "tok-a")
            page.click("#token-form button[type=submit]")
            page.locator("#hosts").wait_for()
            expect(page.locator("#who")).to_contain_text("project project-a")
            assert "2 total" in page.locator(f".host[data-host='{host}']").inner_text()

            visit(page, f"{url}/ui/#/policies")
            page.locator("#policies .policy").first.wait_for()
            names = page.locator("#policies .policy").evaluate_all(
                "els => els.map(e => e.dataset.name)")
            assert "policy-of-a" in names and "policy-of-b" not in names, names

            render_ms = open_host_page(page, url, host)
            rows = page.locator("#ports .row.port").evaluate_all(
                "els => els.map(e => e.dataset.port)")
            assert sorted(rows) == sorted(made["a"]["ports"]), rows
            # The stream carries A's ports only (B's are fed too, on the same host).
            page.wait_for_function("+document.body.dataset.liveTicks >= 2", timeout=10_000)
            streamed = page.evaluate("[...window.netqosCharts.entries()]"
                                     ".filter(([id, c]) => c.samples.length).map(([id]) => id)")
            assert set(streamed) == set(made["a"]["ports"]), streamed
            # B's port by its URL: the API's 404, shown as an error, not B's data.
            visit(page, f"{url}/ui/#/port/{made['b']['ports'][0]}")
            expect(page.locator("[role=alert]")).to_contain_text("could not be found")
            # And the stream itself refuses B's port for A.
            r = httpx.get(f"{url}/v2.0/netqos/live/stream",
                          params={"port_id": made["b"]["ports"][0]},
                          headers={"X-Auth-Token": "tok-a"})
            assert r.status_code == 404, r.text
        assert root.get("/v2.0/netqos/whoami").json()["whoami"]["is_admin"] is True
    assert render_ms < RENDER_BUDGET_MS


RATE_NEAR_100K = re.compile(r"^(9[5-9]\.\d|10[0-5]) kbit/s$")


def test_rates_read_in_three_significant_figures(page, ui_server):
    """Rounding picks the precision: 99.96 kbit/s reads "100 kbit/s", never "100.0"."""
    visit(page, f"{ui_server.url}/ui/")
    shown = page.evaluate("""async () => {
        const { bps } = await import("/ui/units.js");
        return [99_960, 9_999, 100_400, 99_500, 1_234_567, 999].map(bps);
    }""")
    assert shown == ["100 kbit/s", "10.0 kbit/s", "100 kbit/s", "99.5 kbit/s",
                     "1.23 Mbit/s", "999 bit/s"], shown


def test_host_with_1000_ports_renders_fast_and_stays_live(page, ui_server, admin):
    host = uniq("big")
    policy = create_policy(admin, uniq("p"), 10_000)
    ports = populate_host(admin, host, 1000, policy["id"])
    with CounterFeeder(ui_server.url, host, ports, 10_000_000) as feeder:
        while feeder.posts < 2:
            time.sleep(0.1)
        render_ms = open_host_page(page, ui_server.url, host)
        assert page.locator("#ports .row.port").count() == 1000
        # Live: ticks keep arriving and the rows on screen show rates.
        page.wait_for_function("+document.body.dataset.liveTicks >= 4", timeout=15_000)
        first = page.locator("#ports .row.port").first           # vm-0000: 1 % of 10 Mbit/s
        # 100 kbit/s measured: a few per cent either side, three significant figures.
        expect(first.locator(".now .in")).to_have_text(RATE_NEAR_100K)
        in_bps = float(first.locator("canvas").get_attribute("data-in-bps"))
        assert in_bps == pytest.approx(100_000, rel=0.05)
        # Sorted by "closest to its limit": port i runs at (i % 100 + 1) % of the limit.
        page.select_option("#sort", "usage")
        top = page.locator("#ports .row.port").first.get_attribute("data-port")
        assert ports.index(top) % 100 == 99
        usage = page.evaluate(f"window.netqosCharts.get('{top}').usage")
        assert 0.9 < usage <= 1.05, usage
    print(f"\nhost page with 1000 ports: rendered in {render_ms:.0f} ms")
    assert render_ms < RENDER_BUDGET_MS, render_ms
