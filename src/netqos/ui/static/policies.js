// Policies: rules, bindings (ports, networks, floating IPs, router gateways), sharing; and
// forms that create, edit and bind through the same API as every other client.

import { api, get, session } from "./api.js";
import { h, show, errorBox } from "./dom.js";
import { ports as listPorts } from "./data.js";
import { parseKbps, ruleText } from "./units.js";

const RULES = {
  bandwidth_limit: { value: "max_kbps", label: "max (e.g. 10mbit)", directions: ["egress", "ingress"] },
  minimum_bandwidth: { value: "min_kbps", label: "min (e.g. 5mbit)", directions: ["egress", "ingress"] },
  dscp_marking: { value: "dscp_mark", label: "DSCP mark (e.g. 26)", directions: [] },
  packet_rate_limit: { value: "max_kpps", label: "max kpps", directions: ["egress", "ingress"] },
  minimum_packet_rate: { value: "min_kpps", label: "min kpps", directions: ["any", "egress", "ingress"] },
};

function parseValue(type, text) {
  const key = RULES[type].value;
  const n = key.endsWith("kbps") ? parseKbps(text) : Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${text}: not a valid ${key}`);
  return { [key]: n };
}

const rulePath = (pid, type, rid) => `/v2.0/qos/policies/${pid}/${type}_rules${rid ? `/${rid}` : ""}`;

export async function policiesPage() {
  const [policyDoc, portList, nets, fips, routers] = await Promise.all([
    get("/v2.0/qos/policies"), listPorts(), get("/v2.0/networks"),
    get("/v2.0/floatingips").catch(() => ({ floatingips: [] })),
    get("/v2.0/routers").catch(() => ({ routers: [] }))]);
  const message = h("div", { id: "message" });
  const act = (work) => async (ev) => {
    ev.preventDefault();
    try { await work(ev.target); await policiesPage(); }
    catch (err) { message.replaceChildren(errorBox(err)); }
  };
  const name = h("input", { name: "name", placeholder: "name", required: true });
  const shared = h("input", { type: "checkbox", name: "shared" });
  const create = h("form", { class: "inline", id: "create-policy", onsubmit: act(() =>
    api("POST", "/v2.0/qos/policies", { policy: { name: name.value, shared: shared.checked } })) },
    name, h("label", {}, shared, " shared"), h("button", { type: "submit" }, "Create policy"));
  const cards = policyDoc.policies.map((p) => policyCard(p, { portList, nets: nets.networks,
    fips: fips.floatingips, routers: routers.routers, act }));
  show(h("h1", {}, "Policies"), message, create,
    h("div", { id: "policies" }, cards.length ? cards : h("p", { class: "muted" }, "No policies yet.")));
}

function policyCard(p, { portList, nets, fips, routers, act }) {
  const boundPorts = portList.filter((x) => x.qos_policy_id === p.id);
  const boundNets = nets.filter((x) => x.qos_policy_id === p.id);
  const boundFips = fips.filter((x) => x.qos_policy_id === p.id);
  const boundRouters = routers.filter((r) => (r.external_gateway_info || {}).qos_policy_id === p.id);
  const mine = session.whoami.is_admin || p.project_id === session.whoami.project_id;
  return h("div", { class: "card policy", dataset: { policy: p.id, name: p.name } },
    h("h3", {}, p.name, p.shared ? " · shared" : "", p.is_default ? " · project default" : "",
      h("span", { class: "muted" }, ` · project ${p.project_id}`)),
    h("table", { class: "rules" }, p.rules.map((r) => ruleRow(p, r, mine, act))),
    mine ? editPolicyForm(p, act) : null,
    mine ? addRuleForm(p, act) : null,
    h("div", { class: "kv" },
      h("span", {}, "ports"), h("span", { class: "bound-ports" }, boundPorts.map((x) =>
        h("a", { href: `#/port/${x.id}` }, x.name || x.id.slice(0, 8), " ")), boundPorts.length ? "" : "–"),
      h("span", {}, "networks"), h("span", { class: "bound-networks" }, boundNets.map((x) => `${x.name || x.id.slice(0, 8)} `).join("") || "–"),
      h("span", {}, "floating IPs"), h("span", {}, boundFips.map((x) => `${x.floating_ip_address} `).join("") || "–"),
      h("span", {}, "router gateways"), h("span", {}, boundRouters.map((x) => `${x.name || x.id.slice(0, 8)} `).join("") || "–")),
    mine ? bindForm(p, portList, nets, act) : null);
}

function ruleRow(p, r, mine, act) {
  const spec = RULES[r.type];
  const input = h("input", { class: "short rule-value", name: "value", value: r[spec.value] });
  return h("tr", { class: "rule", dataset: { rule: r.id, type: r.type, direction: r.direction || "" } },
    h("td", {}, ruleText(r)),
    h("td", {}, mine ? h("form", { class: "inline edit-rule", onsubmit: act(() =>
      api("PUT", rulePath(p.id, r.type, r.id), { [`${r.type}_rule`]: parseValue(r.type, input.value) })) },
    input, h("button", { type: "submit" }, "Save"),
    h("button", { type: "button", onclick: act(() => api("DELETE", rulePath(p.id, r.type, r.id))) }, "Delete")) : ""));
}

function editPolicyForm(p, act) {
  const name = h("input", { name: "name", value: p.name });
  const description = h("input", { name: "description", value: p.description || "", placeholder: "description" });
  const shared = h("input", { type: "checkbox", name: "shared", checked: p.shared });
  return h("form", { class: "inline edit-policy", onsubmit: act(() => api("PUT", `/v2.0/qos/policies/${p.id}`,
    { policy: { name: name.value, description: description.value, shared: shared.checked } })) },
  name, description, h("label", {}, shared, " shared"), h("button", { type: "submit" }, "Save"),
  h("button", { type: "button", class: "delete-policy",
    onclick: act(() => api("DELETE", `/v2.0/qos/policies/${p.id}`)) }, "Delete policy"));
}

function addRuleForm(p, act) {
  const type = h("select", { name: "type" }, Object.keys(RULES).map((t) => h("option", { value: t }, t)));
  const value = h("input", { class: "short", name: "value", placeholder: "value" });
  const direction = h("select", { name: "direction" }, ["egress", "ingress", "any"].map((d) => h("option", { value: d }, d)));
  return h("form", { class: "inline add-rule", onsubmit: act(() => {
    const body = parseValue(type.value, value.value);
    if (RULES[type.value].directions.includes(direction.value)) body.direction = direction.value;
    return api("POST", rulePath(p.id, type.value), { [`${type.value}_rule`]: body });
  }) }, "add rule ", type, value, direction, h("button", { type: "submit" }, "Add"));
}

function bindForm(p, portList, nets, act) {
  const target = h("select", { name: "target" },
    portList.map((x) => h("option", { value: `port:${x.id}` }, `port ${x.name || x.id.slice(0, 8)}`)),
    nets.map((x) => h("option", { value: `network:${x.id}` }, `network ${x.name || x.id.slice(0, 8)}`)));
  const put = (policyId) => () => {
    const [kind, id] = target.value.split(":");
    return api("PUT", `/v2.0/${kind}s/${id}`, { [kind]: { qos_policy_id: policyId } });
  };
  return h("form", { class: "inline bind", onsubmit: act(put(p.id)) }, "bind to ", target,
    h("button", { type: "submit" }, "Bind"),
    h("button", { type: "button", onclick: act(put(null)) }, "Unbind"));
}
