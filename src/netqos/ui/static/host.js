// Host: its ports, their effective policy and revisions, and a live chart per port.
// Rows are built once; charts of the rows on screen are redrawn every second.

import { stream } from "./api.js";
import { h, show } from "./dom.js";
import { charts, RateChart } from "./chart.js";
import { effective, limitsOf, policies, ports, status } from "./data.js";
import { bps, ruleText } from "./units.js";

export async function hostPage(host) {
  const started = performance.now();
  delete document.body.dataset.renderMs;
  document.body.dataset.liveTicks = 0;
  const fields = ["id", "name", "status", "device_owner", "qos_policy_id",
    "qos_network_policy_id", "netqos:qos_state"].map((f) => `&fields=${f}`).join("");
  const [portList, policyMap] = await Promise.all([
    ports(`?binding:host_id=${encodeURIComponent(host)}${fields}`), policies()]);
  const fetched = performance.now();
  charts.clear();
  const rows = portList.map((p) => portRow(p, policyMap));
  const body = h("div", { class: "rows" }, rows.map((r) => r.tr));
  const sort = h("select", { id: "sort", onchange: () => order() },
    h("option", { value: "name" }, "name"),
    h("option", { value: "usage" }, "closest to its limit"));
  let sorted = 0;
  function order() {
    sorted = performance.now();
    const key = sort.value;
    rows.sort(key === "usage" ? (a, b) => b.chart.usage - a.chart.usage
      : (a, b) => a.name.localeCompare(b.name));
    body.replaceChildren(...rows.map((r) => r.tr));
  }
  order();
  show(h("h1", {}, `Host ${host}`),
    h("p", {}, `${portList.length} port(s) · sort by `, sort),
    // A grid of div rows, not a table: rows off screen skip layout and paint
    // (content-visibility), which a table's rows cannot.
    h("div", { id: "ports", class: "grid" }, h("div", { class: "row head" },
      ["port", "status", "policy", "rules", "revision", "live (in / out)", "now", "of limit"]
        .map((c) => h("span", {}, c))), body));

  // Only rows on screen are drawn: a host with thousands of ports stays cheap.
  const visible = new Set();
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) { visible.add(e.target.rowRef); e.target.rowRef.redraw(); }
      else visible.delete(e.target.rowRef);
    }
  });
  for (const r of rows) { r.tr.rowRef = r; seen.observe(r.tr); }
  const byId = new Map(rows.map((r) => [r.id, r]));
  const live = stream(`/v2.0/netqos/live/stream?host=${encodeURIComponent(host)}`, (event, data) => {
    for (const [id, v] of Object.entries(data.ports)) {
      const row = byId.get(id);
      if (!row) continue;
      if (event === "window") row.chart.set(v.samples, v.limit);
      else row.chart.add(v.sample, v.limit);
      row.dirty = true;
    }
    // "Closest to its limit" follows the rates, re-sorted at most every 2 s so rows hold
    // still long enough to be read.
    if (sort.value === "usage" && performance.now() - sorted > 2000) order();
    for (const r of visible) if (r.dirty) r.redraw();
    document.body.dataset.liveTicks = (+document.body.dataset.liveTicks || 0) + 1;
  });
  // Rendered = the first frame painted after the table went in (layout included).
  const built = performance.now();
  requestAnimationFrame(() => setTimeout(() => {
    const painted = performance.now();
    document.body.dataset.renderParts = `api ${(fetched - started).toFixed(0)} ms, rows ` +
      `${(built - fetched).toFixed(0)} ms, layout+paint ${(painted - built).toFixed(0)} ms`;
    document.body.dataset.renderMs = (painted - started).toFixed(1);
  }, 0));
  return () => { live.close(); seen.disconnect(); };
}

function portRow(port, policyMap) {
  const eff = effective(port);
  const policy = policyMap.get(eff.id);
  const state = port["netqos:qos_state"] || {};
  const canvas = h("canvas", { class: "spark", dataset: { port: port.id } });
  const chart = new RateChart(canvas, { axes: false });
  chart.limit = limitsOf(policy);
  charts.set(port.id, chart);
  const now = h("span", { class: "num now" }), bar = h("span");
  const tr = h("div", { class: "row port", dataset: { port: port.id } },
    h("span", {}, h("a", { href: `#/port/${port.id}` }, port.name || port.id.slice(0, 13))),
    h("span", { class: `status-${status(port)}` }, status(port)),
    h("span", {}, policy ? `${policy.name} (${eff.from})` : eff.id ? eff.id.slice(0, 8) : "none"),
    h("span", {}, ((policy && policy.rules) || []).map(ruleText).join(" · ")),
    h("span", { class: "num" }, `${state.applied_revision ?? "–"} / ${state.desired_revision ?? "–"}`),
    h("span", {}, canvas), now, h("span", {}, h("div", { class: "bar" }, bar)));
  const row = { id: port.id, name: port.name || port.id, tr, chart, dirty: true };
  row.redraw = () => {
    row.dirty = false;
    chart.draw();
    const s = chart.latest;
    now.replaceChildren(h("span", { class: "in" }, bps(s && s[1])), " / ",
      h("span", { class: "out" }, bps(s && s[2])));
    const u = Math.min(1, chart.usage);
    bar.style.width = `${(u * 100).toFixed(0)}%`;
    bar.className = u > 0.9 ? "hot" : "";
  };
  return row;
}
