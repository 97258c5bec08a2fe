// Overview: hosts and their agents, ports by state, and the last hour's repairs and errors.

import { get } from "./api.js";
import { h, show } from "./dom.js";
import { agents, effective, policies, ports, status } from "./data.js";
import { ago, kbps } from "./units.js";

export async function overview() {
  const [agentList, portList, policyMap, journal] = await Promise.all([
    agents(), ports(), policies(), get("/v2.0/netqos/events?since=3600")]);
  const hosts = new Map();
  const host = (name) => {
    if (!hosts.has(name)) hosts.set(name, { agents: [], ports: [], reserved: 0 });
    return hosts.get(name);
  };
  for (const a of agentList) host(a.host).agents.push(a);
  for (const p of portList) {
    if (!p["binding:host_id"]) continue;
    const entry = host(p["binding:host_id"]);
    entry.ports.push(p);
    const policy = policyMap.get(effective(p).id);
    for (const r of (policy && policy.rules) || [])
      if (r.type === "minimum_bandwidth" && (r.direction || "egress") === "egress") entry.reserved += r.min_kbps;
  }
  const count = (list, s) => list.filter((p) => status(p) === s).length;
  const events = journal.events;
  const cards = [...hosts.entries()].sort().map(([name, e]) => h("div", { class: "card host", dataset: { host: name } },
    h("h3", {}, h("a", { href: `#/host/${encodeURIComponent(name)}` }, name)),
    h("div", { class: "kv" },
      ...e.agents.flatMap((a) => [
        h("span", {}, a.agent_type), h("span", { class: a.alive ? "status-ACTIVE" : "status-ERROR" },
          `${a.alive ? "alive" : "dead"} · ${(a.backends || []).join(", ")}` +
          (a.configurations && a.configurations.l2_role ? ` · L2 ${a.configurations.l2_role}` : ""))]),
      ...(e.agents.length ? [] : [h("span", {}, "agent"), h("span", { class: "muted" }, "none reported")]),
      ...e.agents.flatMap((a) => Object.entries(a.uplinks || {}).flatMap(([up, cap]) => [
        h("span", {}, "uplink"), h("span", {}, `${up}: ${kbps(cap)}, ${kbps(e.reserved)} guaranteed`)])),
      h("span", {}, "ports"), h("span", { class: "counts" },
        h("span", { class: "status-ACTIVE" }, `${count(e.ports, "ACTIVE")} enforced`), " · ",
        h("span", { class: "status-BUILD" }, `${count(e.ports, "BUILD")} pending`), " · ",
        h("span", { class: "status-ERROR" }, `${count(e.ports, "ERROR")} in error`),
        ` · ${e.ports.length} total`))));
  const drift = events.filter((e) => e.kind === "drift").length;
  const errors = events.filter((e) => e.kind === "error").length;
  show(h("h1", {}, "Overview"),
    h("div", { class: "cards", id: "hosts" }, cards.length ? cards : h("p", { class: "muted" }, "No hosts yet.")),
    h("h2", {}, `Last hour: ${drift} drift repair(s), ${errors} error(s)`),
    events.length ? h("table", { id: "events" }, h("tr", {}, ["when", "host", "port", "what", "detail"].map((c) => h("th", {}, c))),
      events.filter((e) => e.kind !== "applied").slice(0, 50).map((e) => h("tr", {},
        h("td", {}, ago(e.time)), h("td", {}, e.host),
        h("td", {}, h("a", { href: `#/port/${e.port_id}` }, e.port_id.slice(0, 13))),
        h("td", { class: e.kind === "error" ? "status-ERROR" : "" }, e.kind), h("td", {}, e.detail))))
      : h("p", { class: "muted" }, "Nothing happened."));
}
