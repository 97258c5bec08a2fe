// Human units for rates and rules (API values are kbit/s, kpps; live rates are bit/s).

const DSCP = { 0: "CS0", 8: "CS1", 10: "AF11", 12: "AF12", 14: "AF13", 16: "CS2", 18: "AF21",
  20: "AF22", 22: "AF23", 24: "CS3", 26: "AF31", 28: "AF32", 30: "AF33", 32: "CS4", 34: "AF41",
  36: "AF42", 38: "AF43", 40: "CS5", 46: "EF", 48: "CS6", 56: "CS7" };

export function bps(value) {
  if (value === null || value === undefined) return "–";
  const units = [["Gbit/s", 1e9], ["Mbit/s", 1e6], ["kbit/s", 1e3]];
  for (const [name, size] of units) {
    if (Math.abs(value) >= size) return `${trim(value / size)} ${name}`;
  }
  return `${Math.round(value)} bit/s`;
}

export const kbps = (value) => bps(value * 1000);

// Three significant figures, chosen after rounding: 99.96 reads "100", not "100.0".
function trim(x) {
  const digits = (d) => Math.abs(+x.toFixed(d));
  if (digits(1) >= 100) return x.toFixed(0);
  if (digits(2) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function pps(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${trim(value / 1000)} kpps` : `${Math.round(value)} pps`;
}

// "20mbit", "20 Mbit/s", "1.5g", "800k", "5000" (kbit/s) -> kbit/s, or NaN.
export function parseKbps(text) {
  const m = /^\s*([\d.]+)\s*([kmg]?)(bit|bps|b)?(\/s)?\s*$/i.exec(String(text));
  if (!m) return NaN;
  const scale = { "": 1, k: 1, m: 1000, g: 1e6 }[m[2].toLowerCase()];
  return Math.round(parseFloat(m[1]) * scale);
}

const DIR = { ingress: "in", egress: "out", any: "any" };

export function ruleText(rule) {
  const dir = DIR[rule.direction] || rule.direction || "";
  switch (rule.type) {
    case "bandwidth_limit":
      return `limit ${dir} ${kbps(rule.max_kbps)}` +
        (rule.max_burst_kbps ? ` (burst ${kbps(rule.max_burst_kbps)})` : "");
    case "dscp_marking":
      return `DSCP ${DSCP[rule.dscp_mark] || ""} (${rule.dscp_mark})`;
    case "minimum_bandwidth": return `guarantee ${dir} ${kbps(rule.min_kbps)}`;
    case "packet_rate_limit":
      return `limit ${dir} ${pps(rule.max_kpps * 1000)}` +
        (rule.max_burst_kpps ? ` (burst ${pps(rule.max_burst_kpps * 1000)})` : "");
    case "minimum_packet_rate": return `guarantee ${dir} ${pps(rule.min_kpps * 1000)}`;
    default: return rule.type;
  }
}

export function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
