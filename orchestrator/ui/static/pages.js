/* Jobs, job detail, instances, alerts and offers pages. Each re-renders only its data area on refresh,
   so filters keep their focus and value while the page updates. */
"use strict";
(() => {
  const S = Spotwise, el = S.el;
  const STATES = ["PENDING", "PROVISIONING", "RUNNING", "PREEMPTED", "WAITING_CAPACITY", "BLOCKED_BUDGET",
    "SUCCEEDED", "FAILED", "CANCELLED"];
  const params = () => new URLSearchParams(location.search);
  const placement = p => p ? `${p.cloud} / ${p.zone || p.region}` : "—";
  const market = spot => spot === null || spot === undefined ? "—" : spot ? "spot" : "on-demand";

  function select(id, label, options, value, onchange) {
    return el("div", { class: "field" }, el("label", { for: id, text: label }),
      el("select", { id, onchange }, options.map(([v, t]) => el("option", { value: v, selected: v === value, text: t }))));
  }

  /* ---- Jobs ---- */
  S.pages.jobs = {
    render(root) {
      const q = params();
      const update = () => {
        const next = new URLSearchParams();
        for (const id of ["state", "team"]) { const v = document.getElementById(`f-${id}`).value.trim(); if (v) next.set(id, v); }
        history.replaceState(null, "", next.toString() ? `?${next}` : location.pathname);
        S.refresh();
      };
      const admin = S.me().role === "admin";
      const team = admin
        ? el("div", { class: "field" }, el("label", { for: "f-team", text: "Team" }),
            el("input", { id: "f-team", type: "search", value: q.get("team") || "", placeholder: "all teams", onchange: update }))
        : el("div", { class: "field" }, el("label", { for: "f-team", text: "Team" }),
            el("input", { id: "f-team", value: S.me().team, readonly: true, "aria-readonly": "true" }));
      root.append(el("form", { class: "filters", role: "search", "aria-label": "Filter jobs", onsubmit: e => { e.preventDefault(); update(); } },
        select("f-state", "State", [["", "any state"], ...STATES.map(s => [s, s])], q.get("state") || "", update), team),
        el("div", { id: "jobs-table" }));
    },
    async refresh() {
      const q = new URLSearchParams();
      const state = document.getElementById("f-state").value, team = document.getElementById("f-team").value.trim();
      if (state) q.set("state", state);
      if (team && S.me().role === "admin") q.set("team", team);
      const data = await S.api(`/v1/dashboard/jobs?${q}`);
      document.getElementById("jobs-table").replaceChildren(S.table(`${S.count(data.items.length, "job")}, newest first`, [
        { label: "Job", cell: j => S.link(`/ui/jobs/${encodeURIComponent(j.id)}`, j.id) },
        { label: "Name", cell: j => j.name },
        { label: "Team", cell: j => j.team },
        { label: "State", cell: j => S.badge(j.state) },
        { label: "GPUs", cell: j => j.accelerators || "none" },
        { label: "Cloud / zone", cell: j => placement(j.placement) },
        { label: "Attempts", num: true, cell: j => String(j.attempts) },
        { label: "Cost so far", num: true, cell: j => S.money(j.cost_usd) },
        { label: "Deadline slack", num: true, cell: j => j.slack_seconds === null ? (j.deadline_at ? "met" : "—")
            : el("span", { class: j.slack_seconds < 0 ? "bad" : null, text: S.duration(j.slack_seconds) }) },
        { label: "Submitted", cell: j => S.ago(j.submitted_at) },
      ], data.items, "No jobs match these filters."));
    },
  };

  /* ---- One job ---- */
  let logCursor = 0, logLines = [], checkpointsMissing = false;
  S.pages.job = {
    render(root) {
      logCursor = 0; logLines = [];
      root.append(el("p", {}, S.link("/ui/jobs", "← All jobs")),
        el("div", { id: "job-summary" }),
        el("h2", { text: "Attempts" }), el("div", { id: "job-timeline" }), el("div", { id: "job-attempts" }),
        el("h2", { text: "Checkpoint versions" }), el("div", { id: "job-checkpoints" }),
        el("h2", { text: "Events" }), el("div", { id: "job-events" }),
        el("h2", { id: "logs-title", text: "Logs (tail)" }),
        el("pre", { id: "job-logs", class: "logs", tabindex: "0", "aria-labelledby": "logs-title" }));
    },
    async refresh() {
      const id = encodeURIComponent(document.body.dataset.jobId);
      let job;
      try { job = await S.api(`/v1/jobs/${id}`); } catch (err) {
        if (err.status === 404) {
          document.getElementById("job-summary").replaceChildren(el("p", { class: "error", role: "alert",
            text: `Job ${document.body.dataset.jobId} was not found (or belongs to another team).` }));
          return;
        }
        throw err;
      }
      const [events, logs] = await Promise.all([S.api(`/v1/jobs/${id}/events`), S.api(`/v1/jobs/${id}/logs?after=${logCursor}`)]);
      const facts = [["State", S.badge(job.state)], ["Name", job.name], ["Team", job.team], ["GPUs", job.accelerators || "none"],
        ["Cost so far", S.money(job.cost_usd)], ["Runtime", S.duration(job.runtime_seconds)],
        ["Submitted", S.time(job.submitted_at)], ["Deadline", S.time(job.deadline_at)],
        ["Exit code", job.exit_code === null ? "—" : String(job.exit_code)], ["Reason", job.reason || "—"]];
      document.getElementById("job-summary").replaceChildren(el("dl", { class: "facts" },
        facts.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", {}, v)))));
      document.getElementById("job-timeline").replaceChildren(SpotwiseChart.timeline(job.attempt_list));
      document.getElementById("job-attempts").replaceChildren(S.table("Attempts, first to last", [
        { label: "#", num: true, cell: a => String(a.number) }, { label: "State", cell: a => S.badge(a.state) },
        { label: "Cloud / zone", cell: a => `${a.provider} / ${a.zone}` }, { label: "Type", cell: a => a.instance_type },
        { label: "Market", cell: a => market(a.spot) }, { label: "Price/h", num: true, cell: a => S.money(a.price_per_hour) },
        { label: "Started", cell: a => S.time(a.started_at || a.created_at) }, { label: "Ended", cell: a => S.time(a.ended_at) },
        { label: "End", cell: a => a.end_reason || (a.exit_code === null ? "—" : `exit ${a.exit_code}`) },
      ], job.attempt_list, "No attempt yet: the job is waiting to be placed."));
      document.getElementById("job-events").replaceChildren(S.table("Events, oldest first", [
        { label: "At", cell: e => S.time(e.at) }, { label: "Kind", cell: e => e.kind },
        { label: "Transition", cell: e => e.from || e.to ? `${e.from || "·"} → ${e.to || "·"}` : "—" },
        { label: "Reason", cell: e => e.reason || "" },
      ], events.items));
      await checkpoints(id);
      logCursor = logs.cursor;
      for (const c of logs.items) logLines.push(...c.data.replace(/\n$/, "").split("\n").map(l => (c.stream === "stderr" ? "! " : "") + l));
      logLines = logLines.slice(-200);
      const pre = document.getElementById("job-logs");
      pre.textContent = logLines.join("\n") || "(no output yet)";
      pre.scrollTop = pre.scrollHeight;
    },
  };

  async function checkpoints(id) {
    const box = document.getElementById("job-checkpoints");
    if (checkpointsMissing) return;
    try {
      const data = await S.api(`/v1/jobs/${id}/checkpoints`);
      box.replaceChildren(S.table("Checkpoint versions", [
        { label: "Version", cell: c => String(c.version ?? c.id ?? "") }, { label: "Saved", cell: c => S.time(c.created_at || c.at) },
        { label: "Size", num: true, cell: c => S.bytes(c.size_bytes) },
      ], data.items || [], "No checkpoint saved yet."));
    } catch (err) {
      if (err.status !== 404 && err.status !== 405) throw err;
      checkpointsMissing = true;
      box.replaceChildren(el("p", { class: "empty", text: "This daemon has no checkpoint API yet; versions will show here once it does." }));
    }
  }

  /* ---- Instances ---- */
  S.pages.instances = {
    render(root) { root.append(el("div", { id: "instances-table" })); },
    async refresh() {
      const data = await S.api("/v1/dashboard/instances");
      document.getElementById("instances-table").replaceChildren(S.table(`${S.count(data.items.length, "running instance")}`, [
        { label: "Instance", cell: i => i.id }, { label: "Job", cell: i => S.link(`/ui/jobs/${encodeURIComponent(i.job_id)}`, i.job_name || i.job_id) },
        { label: "Team", cell: i => i.team || "—" }, { label: "Cloud", cell: i => i.cloud }, { label: "Region", cell: i => i.region },
        { label: "Zone", cell: i => i.zone }, { label: "Type", cell: i => i.instance_type }, { label: "Market", cell: i => market(i.spot) },
        { label: "Price/h", num: true, cell: i => S.money(i.price_per_hour) }, { label: "Age", num: true, cell: i => S.duration(i.age_seconds) },
        { label: "GPU util", num: true, cell: i => i.gpu_utilization === null ? "n/a" : `${Math.round(i.gpu_utilization)}%` },
        { label: "Idle shutdown", num: true, cell: i => i.idle_seconds_left !== null ? el("span", { class: "bad", text: "in " + S.duration(i.idle_seconds_left) })
            : i.idle_rule ? `rule: <${i.idle_rule.below}% for ${S.duration(i.idle_rule.window_seconds)}` : "no idle rule" },
      ], data.items, "No instance is running."));
    },
  };

  /* ---- Alerts ---- */
  S.pages.alerts = {
    render(root) { root.append(el("div", { id: "alerts-table" })); },
    async refresh() {
      const data = await S.api("/v1/alerts?limit=200");
      document.getElementById("alerts-table").replaceChildren(S.table(`${S.count(data.items.length, "alert")}, newest first`, [
        { label: "When", cell: a => S.time(a.created_at) }, { label: "Severity", cell: a => S.badge(a.severity) },
        { label: "Kind", cell: a => a.kind }, { label: "Team", cell: a => a.team || "all" },
        { label: "Subject", cell: a => el("span", { title: a.body, text: a.subject }) },
        { label: "Delivery", cell: a => a.deliveries.length ? el("ul", { class: "plain" }, a.deliveries.map(d =>
            el("li", {}, `${d.sink}: `, S.badge(d.state), d.tries > 1 ? ` (${d.tries} tries)` : "",
              d.last_error ? el("span", { class: "bad", text: ` ${d.last_error}` }) : ""))) : "not routed yet" },
      ], data.items, "No alerts."));
    },
  };

  /* ---- Offers: the cheapest offer per GPU model, spot and on-demand, and each cloud's best ---- */
  S.pages.offers = {
    render(root) { root.append(el("div", { id: "offers-table" }), el("h2", { text: "Price sources" }), el("div", { id: "sources-table" })); },
    async refresh() {
      const [offers, sources] = await Promise.all([S.api("/v1/offers?limit=1000"), S.api("/v1/catalog")]);
      const byModel = new Map();
      for (const o of offers.items) {
        if (!o.gpu_model) continue;
        const m = byModel.get(o.gpu_model) || { model: o.gpu_model, spot: null, od: null, clouds: {} };
        const kind = o.spot ? "spot" : "od";
        if (!m[kind] || o.price_per_hour / o.gpu_count < m[kind].price_per_hour / m[kind].gpu_count) m[kind] = o;
        const per = o.price_per_hour / o.gpu_count;
        if (!(o.cloud in m.clouds) || per < m.clouds[o.cloud]) m.clouds[o.cloud] = per;
        byModel.set(o.gpu_model, m);
      }
      const rows = [...byModel.values()].sort((a, b) => a.model.localeCompare(b.model));
      const best = o => o ? `${S.money(o.price_per_hour / o.gpu_count)}/GPU·h (${o.cloud} ${o.zone || o.region}, ${o.instance_type})` : "—";
      document.getElementById("offers-table").replaceChildren(S.table(`Cheapest offers per GPU type (${offers.offers_cached} offers cached)`, [
        { label: "GPU", cell: m => m.model }, { label: "Cheapest spot", cell: m => best(m.spot) },
        { label: "Cheapest on-demand", cell: m => best(m.od) },
        { label: "Per cloud (best $/GPU·h)", cell: m => Object.entries(m.clouds).sort((a, b) => a[1] - b[1]).map(([c, p]) => `${c} ${S.money(p)}`).join(" · ") },
        { label: "Price age", num: true, cell: m => S.duration((m.spot || m.od).price_age_seconds) },
      ], rows, "No GPU offers cached yet."));
      document.getElementById("sources-table").replaceChildren(S.table("Where prices come from", [
        { label: "Cloud", cell: s => s.cloud }, { label: "Source", cell: s => s.source },
        { label: "Offers", num: true, cell: s => String(s.offers ?? s.offer_count ?? "—") },
        { label: "Age", num: true, cell: s => s.age_seconds === undefined || s.age_seconds === null ? "—" : S.duration(s.age_seconds) },
        { label: "Status", cell: s => s.stale ? S.badge("stale", "failed") : S.badge("fresh", "delivered") },
        { label: "Last error", cell: s => s.last_error || "" },
      ], sources.items, "No price source has reported yet."));
    },
  };
})();
