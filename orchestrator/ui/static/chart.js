/* Inline SVG drawing: the stacked spend chart with budget lines and forecast, and the attempts timeline.
   No chart library: a few dozen paths are all these views need. */
"use strict";
const SpotwiseChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea"];
  const svg = (tag, attrs = {}, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const color = i => PALETTE[i % PALETTE.length];
  const fmtMoney = v => "$" + (v >= 1 ? v.toFixed(2) : v >= 0.01 ? v.toFixed(3) : v.toFixed(5));
  /* Time-axis ticks at round times (every 10 s, 1 min, 5 min, 1 h, 1 day, ...), 3 to 7 of them, labelled with
     the precision their step needs: five ticks over 10 minutes all read "14:03" before. */
  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800].map(s => s * 1000);
  function ticks(start, end) {
    const span = Math.max(end - start, 1000);
    const step = STEPS.find(s => span / s <= 6) || STEPS.at(-1);
    const offset = new Date(start).getTimezoneOffset() * 60e3;  // round in local time: midnight, not 01:00
    const out = [];
    for (let t = Math.ceil((start - offset) / step) * step + offset; t <= end; t += step) out.push(t);
    return { step, times: out };
  }
  const fmtTime = (ms, step) => {
    const d = new Date(ms);
    if (step >= 86400e3) return d.toLocaleDateString([], { month: "short", day: "numeric" });
    return d.toLocaleTimeString([], step < 60e3 ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" });
  };

  /* opts: {times: [ms bucket ends], keys, cumulative: {key: [..]}, start, now, end, burnPerHour, budgets: [{label, value}], title} */
  function stacked(opts) {
    const W = 800, H = 340, L = 70, R = 20, T = 20, B = 40;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-labelledby": "chart-title chart-desc",
      "data-window": String(opts.windowSeconds || "") });
    const total = opts.keys.reduce((s, k) => s + (opts.cumulative[k].at(-1) || 0), 0);
    const forecastEnd = total + opts.burnPerHour * (opts.end - opts.now) / 3600e3;
    const top = Math.max(total, forecastEnd, ...opts.budgets.map(b => b.value), 1e-6) * 1.15;
    const x = ms => L + (ms - opts.start) / (opts.end - opts.start) * (W - L - R);
    const y = v => H - B - v / top * (H - T - B);
    root.append(svg("title", { id: "chart-title" }, opts.title));
    root.append(svg("desc", { id: "chart-desc" }, `Total ${fmtMoney(total)} so far; ` +
      opts.budgets.map(b => `${b.label} at ${fmtMoney(b.value)}`).join("; ") +
      `; forecast ${fmtMoney(forecastEnd)} at the right edge at the current burn rate.`));
    for (let i = 0; i <= 4; i++) {  // grid and y labels
      const v = top * i / 4;
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
        svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, fmtMoney(v)));
    }
    const axis = ticks(opts.start, opts.end);
    for (const ms of axis.times) {
      root.append(svg("line", { x1: x(ms), x2: x(ms), y1: H - B, y2: H - B + 5, class: "axis-line" }),
        svg("text", { x: x(ms), y: H - B + 18, "text-anchor": "middle", class: "axis tick" }, fmtTime(ms, axis.step)));
    }
    const pts = [opts.start, ...opts.times];
    let below = pts.map(() => 0);
    opts.keys.forEach((k, i) => {  // stacked areas, first key at the bottom
      const vals = [0, ...opts.cumulative[k]].map((v, j) => v + below[j]);
      const upper = pts.map((t, j) => `${x(t).toFixed(1)},${y(vals[j]).toFixed(1)}`);
      const lower = pts.map((t, j) => `${x(t).toFixed(1)},${y(below[j]).toFixed(1)}`).reverse();
      root.append(svg("polygon", { points: [...upper, ...lower].join(" "), fill: color(i), "fill-opacity": "0.75",
        stroke: color(i), "data-key": k, class: "area" }, undefined));
      below = vals;
    });
    root.append(svg("line", { x1: x(opts.now), x2: x(opts.now), y1: T, y2: H - B, class: "now" }),
      svg("text", { x: x(opts.now) - 4, y: T + 10, "text-anchor": "end", class: "axis" }, "now"));
    root.append(svg("line", { x1: x(opts.now), y1: y(total), x2: x(opts.end), y2: y(forecastEnd), class: "forecast" }),
      svg("text", { x: W - R - 2, y: y(forecastEnd) - 6, "text-anchor": "end", class: "forecast-label" }, `forecast ${fmtMoney(forecastEnd)}`));
    opts.budgets.forEach(b => {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(b.value), y2: y(b.value), class: "budget", "data-budget": b.label }),
        svg("text", { x: L + 6, y: y(b.value) - 6, class: "budget-label" }, `${b.label}: ${fmtMoney(b.value)}`));
    });
    root.append(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis-line" }),
      svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis-line" }));
    return root;
  }

  /* One bar per attempt from creation to end (or now), coloured by how it ended. */
  function timeline(attempts) {
    const wrap = document.createElement("div");
    if (!attempts || !attempts.length) return wrap;
    const now = Date.now();
    const spans = attempts.map(a => [Date.parse(a.created_at), a.ended_at ? Date.parse(a.ended_at) : now]);
    const start = Math.min(...spans.map(s => s[0])), end = Math.max(...spans.map(s => s[1]), start + 1000);
    const W = 1000, L = 40, R = 20, row = 26, H = attempts.length * row + 30;
    const x = ms => L + (ms - start) / (end - start) * (W - L - R);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "timeline", "aria-label":
      `Timeline of ${attempts.length} attempts: ` + attempts.map(a => `#${a.number} ${a.state}`).join(", ") });
    attempts.forEach((a, i) => {
      const [s, e] = spans[i];
      const cls = a.state === "SUCCEEDED" || a.end_reason === "succeeded" ? "ok" : a.ended_at ? (a.state === "PREEMPTED" ? "warn" : "fail") : "live";
      const bar = svg("rect", { x: x(s), y: i * row + 5, width: Math.max(2, x(e) - x(s)), height: row - 10, rx: 3, class: `bar ${cls}` });
      bar.append(svg("title", {}, `attempt ${a.number}: ${a.provider} ${a.zone || a.region}, ${a.state}, ${Math.round((e - s) / 1000)}s`));
      root.append(svg("text", { x: 4, y: i * row + 18, class: "axis" }, `#${a.number}`), bar);
    });
    root.append(svg("text", { x: L, y: H - 6, class: "axis" }, new Date(start).toLocaleTimeString()),
      svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "axis" }, new Date(end).toLocaleTimeString()));
    wrap.append(root);
    return wrap;
  }

  return { stacked, timeline, color, ticks, fmtTime };
})();
