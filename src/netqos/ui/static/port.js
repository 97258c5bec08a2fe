// Port: why it has the QoS it has (port policy → network policy → project default), the
// backend and the kernel objects its agent reads back, its live chart, and its history.

import { get, stream } from "./api.js";
import { h, show } from "./dom.js";
import { charts, RateChart } from "./chart.js";
import { agents, effective, limitsOf, policies, status } from "./data.js";
import { ago, bps, ruleText } from "./units.js";

export async function portPage(id) {
  const port = (await get(`/v2.0/ports/${encodeURIComponent(id)}`)).port;
  const [network, policyMap, agentList, live] = await Promise.all([
    get(`/v2.0/networks/${port.network_id}`).then((d) => d.network),
    policies(), agents(), get(`/v2.0/netqos/live/ports/${port.id}`).then((d) => d.live)]);
  const eff = effective(port);
  const policy = policyMap.get(eff.id);
  const projectDefault = [...policyMap.values()].find((p) => p.is_default && p.project_id === port.project_id);
  const name = (pid) => (policyMap.get(pid) || {}).name || pid;
  const service = (port.device_owner || "").startsWith("network:");
  const chain = h("ol", { class: "chain", id: "chain" },
    h("li", { class: eff.from === "port" ? "used" : "skipped" },
      `port policy: ${port.qos_policy_id ? name(port.qos_policy_id) : "none"}`),
    h("li", { class: eff.from === "network" ? "used" : "skipped" },
      `network ${network.name || network.id} policy: ${network.qos_policy_id ? name(network.qos_policy_id) : "none"}` +
      (service ? " (not applied to the network's own service ports)" : "")),
    h("li", { class: "muted" }, `project default: ${projectDefault ? projectDefault.name : "none"}` +
      (projectDefault && network.qos_policy_id === projectDefault.id ? " (the network got it when created)" : "")));
  const state = port["netqos:qos_state"] || {};
  const agent = agentList.find((a) => a.host === port["binding:host_id"]);
  const canvas = h("canvas", { class: "big", id: "chart", dataset: { port: port.id } });
  const chart = new RateChart(canvas);
  charts.clear();
  charts.set(port.id, chart);
  chart.set(live.samples || [], live.limit && Object.keys(live.limit).length ? live.limit : limitsOf(policy));
  const now = h("p", { id: "now" });
  const redraw = () => {
    chart.draw();
    const s = chart.latest;
    now.replaceChildren(h("span", { class: "in" }, `in ${bps(s && s[1])} (limit ${bps(chart.limit.in_bps)})`), " · ",
      h("span", { class: "out" }, `out ${bps(s && s[2])} (limit ${bps(chart.limit.out_bps)})`),
      s ? ` · ${s[5].toFixed(1)} drops/s at the limiter` : "");
  };
  const objects = live.objects || [];
  const history = [...(live.events || []).map((e) => [e.time, e.kind, e.detail]),
    ...(state.drift_repaired_at && !(live.events || []).some((e) => e.kind === "drift")
      ? [[Date.parse(state.drift_repaired_at + "Z") / 1000, "drift", (state.drift_repaired || []).join("; ")]] : []),
    [Date.parse(port.updated_at) / 1000 || 0, "changed", `port revision ${port.revision_number}`]]
    .sort((a, b) => b[0] - a[0]);
  show(h("h1", {}, `Port ${port.name || port.id}`),
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("h3", {}, "Why this QoS"), chain,
        h("p", {}, "effective: ", policy ? h("strong", { id: "effective" }, policy.name) : "no policy",
          policy ? ` — ${policy.rules.map(ruleText).join(" · ") || "no rules"}` : "")),
      h("div", { class: "card" }, h("h3", {}, "Enforcement"), h("div", { class: "kv" },
        h("span", {}, "host"), h("a", { href: `#/host/${encodeURIComponent(port["binding:host_id"])}` }, port["binding:host_id"] || "unbound"),
        h("span", {}, "backend"), h("span", {}, agent ? (agent.backends || []).join(", ") : "no agent reported", ` · vnic ${port["binding:vnic_type"]}`),
        h("span", {}, "device"), h("span", {}, live.device || (port["binding:profile"] || {}).device || "–"),
        h("span", {}, "status"), h("span", { class: `status-${status(port)}` }, status(port), state.reason ? ` — ${state.reason}` : ""),
        h("span", {}, "revision"), h("span", { id: "revision" }, `applied ${state.applied_revision ?? "–"} of desired ${state.desired_revision ?? "–"}`)))),
    h("h2", {}, "Live rate"), canvas, now,
    h("h2", {}, "Kernel objects (as the agent reads them back)"),
    objects.length ? h("table", { id: "objects" }, h("tr", {}, ["device", "kind", "handle", "parent", "parameters", "drops"].map((c) => h("th", {}, c))),
      objects.map((o) => h("tr", {}, h("td", {}, o.dev), h("td", {}, o.kind), h("td", {}, o.handle), h("td", {}, o.parent),
        h("td", {}, Object.entries(o.options || {}).map(([k, v]) => `${k} ${k === "rate_bps" ? bps(v) : v}`).join(", ")),
        h("td", { class: "num" }, o.drops))))
      : h("p", { class: "muted" }, "No objects reported (no agent counters for this port yet)."),
    h("h2", {}, "History"),
    h("table", { id: "history" }, h("tr", {}, ["when", "what", "detail"].map((c) => h("th", {}, c))),
      history.map(([t, kind, detail]) => h("tr", {}, h("td", {}, ago(t)), h("td", {}, kind), h("td", {}, detail)))));
  redraw();
  const live$ = stream(`/v2.0/netqos/live/stream?port_id=${encodeURIComponent(port.id)}`, (event, data) => {
    const v = data.ports[port.id];
    if (!v) return;
    if (event === "window") chart.set(v.samples, v.limit); else chart.add(v.sample, v.limit);
    redraw();
  });
  return () => live$.close();
}
