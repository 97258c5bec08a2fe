// What several pages read from the API, and the effective policy of a port.

import { get } from "./api.js";

export async function policies() {
  const doc = await get("/v2.0/qos/policies");
  return new Map(doc.policies.map((p) => [p.id, p]));
}

export async function ports(query = "") {
  return (await get(`/v2.0/ports${query}`)).ports;
}

export async function agents() {
  try {
    return (await get("/v2.0/agents")).agents;
  } catch (err) {
    if (err.status === 403 || err.status === 404) return [];   // not the caller's to see
    throw err;
  }
}

// Where a port's QoS comes from, as the server resolves it: the port's own policy, else
// its network's (never for the network's own service ports, device_owner network:*).
export function effective(port) {
  if (port.qos_policy_id) return { id: port.qos_policy_id, from: "port" };
  if (port.qos_network_policy_id && !(port.device_owner || "").startsWith("network:"))
    return { id: port.qos_network_policy_id, from: "network" };
  return { id: null, from: null };
}

// Limits from a policy's rules, in bit/s, the VM's view (before the agent reports its own).
export function limitsOf(policy) {
  const out = { in_bps: null, out_bps: null };
  for (const r of (policy && policy.rules) || []) {
    if (r.type !== "bandwidth_limit") continue;
    out[(r.direction || "egress") === "ingress" ? "in_bps" : "out_bps"] = r.max_kbps * 1000;
  }
  return out;
}

export function status(port) {
  const s = port["netqos:qos_state"] || {};
  return s.status === "AGENT_DOWN" ? "AGENT_DOWN" : port.status;
}
