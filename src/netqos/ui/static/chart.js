// A live rate chart on a canvas: rate in and out of the VM against their limits.
// Samples are [t, in_bps, out_bps, in_pps, out_pps, drops_ps] (server time, seconds).

import { bps } from "./units.js";

const WINDOW = 60;           // seconds shown
const COLORS = { in: "#1f6fd1", out: "#d9730d" };

export class RateChart {
  constructor(canvas, { axes = true } = {}) {
    this.canvas = canvas;
    this.axes = axes;
    this.samples = [];
    this.limit = { in_bps: null, out_bps: null };
  }

  set(samples, limit) {
    this.samples = samples.slice(-WINDOW * 2);
    if (limit) this.limit = limit;
    this.publish();
  }

  add(sample, limit) {
    const last = this.samples[this.samples.length - 1];
    if (!last || sample[0] > last[0]) this.samples.push(sample);
    if (this.samples.length > WINDOW * 2) this.samples.shift();
    if (limit) this.limit = limit;
    this.publish();
  }

  get latest() { return this.samples[this.samples.length - 1] || null; }

  // How close to its limit (0..1+), the higher direction: the host page sorts by it.
  get usage() {
    const s = this.latest;
    if (!s) return 0;
    const u = (rate, limit) => (limit ? rate / limit : 0);
    return Math.max(u(s[1], this.limit.in_bps), u(s[2], this.limit.out_bps));
  }

  // Readable by people (title) and by tests (data-*): the newest point and the limits.
  publish() {
    const s = this.latest, d = this.canvas.dataset;
    d.inBps = s ? s[1] : ""; d.outBps = s ? s[2] : "";
    d.limitInBps = this.limit.in_bps ?? ""; d.limitOutBps = this.limit.out_bps ?? "";
    d.samples = this.samples.length;
    this.canvas.title = s ? `in ${bps(s[1])} / ${bps(this.limit.in_bps)}, ` +
      `out ${bps(s[2])} / ${bps(this.limit.out_bps)}` : "no data yet";
  }

  draw() {
    const c = this.canvas, ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth, hgt = c.clientHeight;
    if (!w || !hgt) return;
    if (c.width !== w * ratio) { c.width = w * ratio; c.height = hgt * ratio; }
    const g = c.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const pad = this.axes ? { l: 64, r: 8, t: 8, b: 18 } : { l: 1, r: 1, t: 2, b: 2 };
    const now = this.samples.length ? this.samples[this.samples.length - 1][0] : 0;
    const peak = Math.max(1, this.limit.in_bps || 0, this.limit.out_bps || 0,
      ...this.samples.map((s) => Math.max(s[1], s[2])));
    const top = peak * 1.15;
    const x = (t) => pad.l + (w - pad.l - pad.r) * (1 - (now - t) / WINDOW);
    const y = (v) => hgt - pad.b - (hgt - pad.t - pad.b) * (v / top);
    if (this.axes) {
      g.fillStyle = "#67707a"; g.font = "11px system-ui, sans-serif"; g.strokeStyle = "#eef0f3";
      for (const f of [0, 0.25, 0.5, 0.75, 1]) {
        const v = top * f;
        g.beginPath(); g.moveTo(pad.l, y(v)); g.lineTo(w - pad.r, y(v)); g.stroke();
        g.fillText(bps(v), 2, y(v) + 4);
      }
      g.fillText(`last ${WINDOW} s`, w - 70, hgt - 4);
    }
    for (const dir of ["in", "out"]) {
      const limit = this.limit[`${dir}_bps`], col = dir === "in" ? 1 : 2;
      g.strokeStyle = COLORS[dir];
      if (limit) {
        g.setLineDash([5, 4]); g.lineWidth = 1;
        g.beginPath(); g.moveTo(pad.l, y(limit)); g.lineTo(w - pad.r, y(limit)); g.stroke();
        g.setLineDash([]);
      }
      g.lineWidth = this.axes ? 2 : 1.2;
      g.beginPath();
      this.samples.filter((s) => now - s[0] <= WINDOW).forEach((s, i) => {
        if (i === 0) g.moveTo(x(s[0]), y(s[col])); else g.lineTo(x(s[0]), y(s[col]));
      });
      g.stroke();
    }
  }
}

// Charts by port id, for whoever wants to read them (the page's own tests among others).
export const charts = new Map();
window.netqosCharts = charts;
