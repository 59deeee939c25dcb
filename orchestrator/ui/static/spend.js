/* Spend page: cumulative spend per team or cloud (stacked), budget lines, the forecast at the current burn
   rate, totals for the window and each budget's own period. Data: /v1/dashboard/spend and /budgets. */
"use strict";
(() => {
  const S = Spotwise, el = S.el;
  const WINDOWS = [["600:10", "last 10 minutes (per 10 s)"], ["3600:60", "last hour (per minute)"], ["21600:300", "last 6 hours (per 5 min)"],
    ["86400:3600", "last 24 hours (per hour)"], ["604800:21600", "last 7 days (per 6 h)"], ["2592000:86400", "last 30 days (per day)"]];

  S.pages.spend = {
    render(root) {
      const q = new URLSearchParams(location.search);
      const change = () => {
        const next = new URLSearchParams({ by: document.getElementById("s-by").value, window: document.getElementById("s-window").value });
        history.replaceState(null, "", `?${next}`);
        S.refresh();
      };
      const field = (id, label, options, value) => el("div", { class: "field" }, el("label", { for: id, text: label }),
        el("select", { id, onchange: change }, options.map(([v, t]) => el("option", { value: v, selected: v === value, text: t }))));
      root.append(el("form", { class: "filters", "aria-label": "Chart options", onsubmit: e => e.preventDefault() },
        field("s-by", "Group by", [["team", "team"], ["cloud", "cloud"]], q.get("by") || "team"),
        field("s-window", "Window", WINDOWS, q.get("window") || "86400:3600")),
        el("figure", { class: "chart-box" }, el("div", { id: "spend-chart" }), el("figcaption", { id: "spend-legend" })),
        el("h2", { text: "Totals for the window" }), el("div", { id: "spend-totals" }),
        el("h2", { text: "Budgets (each in its own period)" }), el("div", { id: "spend-budgets" }));
    },
    async refresh() {
      const by = document.getElementById("s-by").value;
      const [win, step] = document.getElementById("s-window").value.split(":");
      const [data, budgets] = await Promise.all([
        S.api(`/v1/dashboard/spend?by=${by}&window_seconds=${win}&step_seconds=${step}`), S.api("/v1/dashboard/budgets")]);
      const start = Date.parse(data.since), now = Date.parse(data.until);
      const times = data.bucket_starts.map(t => Math.min(now, Date.parse(t) + data.step_seconds * 1000));
      const cumulative = {};
      for (const k of data.keys) { let run = 0; cumulative[k] = data.series[k].map(v => (run += v)); }
      const burn = Object.values(data.burn_per_hour).reduce((a, b) => a + b, 0);
      const chart = SpotwiseChart.stacked({
        title: `Cumulative spend by ${by}, with budget limits and the forecast`, times, keys: data.keys, cumulative,
        start, now, end: now + (now - start) / 4, burnPerHour: burn, windowSeconds: Number(win),
        budgets: budgets.items.map(b => ({ label: `${b.name} (${b.period})`, value: b.limit_usd })),
      });
      document.getElementById("spend-chart").replaceChildren(chart);
      document.getElementById("spend-legend").replaceChildren(el("ul", { class: "legend" },
        data.keys.map((k, i) => el("li", {}, el("span", { class: "swatch", style: `background:${SpotwiseChart.color(i)}` }), `${k} ${S.money(data.totals[k])}`)),
        el("li", {}, el("span", { class: "swatch line budget" }), "budget limit"),
        el("li", {}, el("span", { class: "swatch line forecast" }), `forecast at ${S.money(burn)}/h`)));
      const total = Object.values(data.totals).reduce((a, b) => a + b, 0);
      document.getElementById("spend-totals").replaceChildren(S.table(`Spend by ${by}: ${S.money(total)} in the window`, [
        { label: by === "team" ? "Team" : "Cloud", cell: k => k }, { label: "Spent", num: true, cell: k => S.money(data.totals[k]) },
        { label: "Burn now", num: true, cell: k => `${S.money(data.burn_per_hour[k])}/h` },
      ], data.keys, "No spend in this window."));
      document.getElementById("spend-budgets").replaceChildren(S.table("Budgets in force", [
        { label: "Budget", cell: b => b.name }, { label: "Scope", cell: b => b.scope }, { label: "Period", cell: b => b.period },
        { label: "Spent", num: true, cell: b => S.money(b.spent_usd) }, { label: "Limit", num: true, cell: b => S.money(b.limit_usd) },
        { label: "Used", num: true, cell: b => el("span", { class: b.percent >= 100 ? "bad" : null, text: `${b.percent.toFixed(0)}%` }) },
        { label: "Forecast at period end", num: true, cell: b => S.money(b.forecast_usd) },
      ], budgets.items, "No budget in force: apply a policy file with budgets (spotwise policy apply)."));
    },
  };
})();
