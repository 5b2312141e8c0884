// asyncron dashboard: plain JavaScript, no build step, no dependencies.
// Everything user-controlled (job names, errors, tracebacks) goes in via textContent, never HTML.
"use strict";

(function () {
  const BASE = document.documentElement.dataset.base || "./";
  const CSRF = (document.querySelector('meta[name="asyncron-csrf"]') || {}).content || "";
  const SVG = "http://www.w3.org/2000/svg";
  const EVENT_TYPES = [
    "JobAdded", "JobRemoved", "JobPaused", "JobResumed", "JobModified", "FireSkipped",
    "FireMisfired", "RunStarted", "RunSucceeded", "RunFailed", "RunRetried",
    "SchedulerStarted", "SchedulerStopped", "dropped",
  ];
  const state = { info: null, jobs: [], selected: null, hours: 1, actionsAllowed: false };

  // -- helpers ------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }
  const $ = (sel) => document.querySelector(sel);

  async function api(path, options) {
    const response = await fetch(BASE + path, Object.assign({ credentials: "same-origin" }, options));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : response.status + " " + response.statusText;
      throw new Error(message);
    }
    return body;
  }

  function toast(message, bad) {
    const el = $("#toast");
    el.textContent = message;
    el.className = bad ? "bad" : "";
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  function relative(iso) {
    if (!iso) return "—";
    const secs = (new Date(iso).getTime() - Date.now()) / 1000;
    const abs = Math.abs(secs);
    let text;
    if (abs < 1) return "now";
    if (abs < 60) text = Math.round(abs) + "s";
    else if (abs < 3600) text = Math.round(abs / 60) + "m";
    else if (abs < 86400) text = (abs / 3600).toFixed(1) + "h";
    else text = (abs / 86400).toFixed(1) + "d";
    return secs > 0 ? "in " + text : text + " ago";
  }
  const local = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
  function seconds(v) {
    if (v === null || v === undefined) return "—";
    if (Math.abs(v) < 1) return (v * 1000).toFixed(1) + " ms";
    return v.toFixed(2) + " s";
  }
  const badge = (status) => h("span", { class: "badge status " + status }, status);

  // -- actions ------------------------------------------------------------------------------
  async function act(job, action) {
    if (action === "cancel" && !window.confirm(`Cancel job "${job.name}" for good?`)) return;
    try {
      await api(`api/jobs/${encodeURIComponent(job.id)}/${action}`, {
        method: "POST",
        headers: { "X-Asyncron-CSRF": CSRF },
      });
      toast(`${action === "run" ? "run now" : action}: ${job.name}`);
    } catch (e) {
      toast(`${action} failed: ${e.message}`, true);
    }
    refreshSoon(true);
  }

  function actionButtons(job) {
    const disabled = !state.actionsAllowed || job.status === "unresolved";
    const title = state.actionsAllowed ? null : "actions are disabled on this dashboard";
    const final = ["completed", "failed", "cancelled", "skipped"].includes(job.status);
    const paused = job.status === "paused";
    const buttons = [];
    if (paused) {
      buttons.push(h("button", { type: "button", "data-action": "resume", disabled, title,
        onclick: () => act(job, "resume") }, "Resume"));
    } else {
      buttons.push(h("button", { type: "button", "data-action": "pause", disabled: disabled || final,
        title, onclick: () => act(job, "pause") }, "Pause"));
    }
    buttons.push(h("button", { type: "button", "data-action": "run",
      disabled: disabled || job.status === "cancelled", title,
      onclick: () => act(job, "run") }, "Run now"));
    buttons.push(h("button", { type: "button", "data-action": "cancel", class: "danger",
      disabled: disabled || final, title, onclick: () => act(job, "cancel") }, "Cancel"));
    return h("div", { class: "actions" }, buttons);
  }

  // -- jobs table ---------------------------------------------------------------------------
  async function refreshJobs() {
    const params = new URLSearchParams();
    const status = $("#filter-status").value;
    const name = $("#filter-name").value.trim();
    if (status) params.set("status", status);
    if (name) params.set("name", name);
    const body = await api("api/jobs?" + params.toString());
    state.jobs = body.jobs;
    $("#job-count").textContent = `${body.total} job${body.total === 1 ? "" : "s"}`;
    const rows = body.jobs.map((job) => h("tr", {
      "data-job-id": job.id, "data-status": job.status,
      class: job.id === state.selected ? "selected" : null,
    },
      h("td", {}, h("button", { type: "button", class: "name-link", onclick: () => select(job.id) }, job.name)),
      h("td", {}, badge(job.status)),
      h("td", { title: job.trigger ? job.trigger.repr : "" }, job.trigger ? job.trigger.description : "—"),
      h("td", { class: "next", title: local(job.next_run) }, relative(job.next_run)),
      h("td", { class: "last", title: local(job.last_run) }, relative(job.last_run)),
      h("td", { class: "num runs" }, job.run_count),
      h("td", { class: "num failures" }, job.failure_count),
      h("td", {}, actionButtons(job)),
    ));
    $("#jobs tbody").replaceChildren(...rows);
    if (!rows.length) {
      $("#jobs tbody").append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No jobs.")));
    }
    renderFailures();
  }

  function renderFailures() {
    const failing = state.jobs.filter((j) => j.error);
    const box = $("#failures");
    if (!failing.length) {
      box.replaceChildren(h("p", { class: "muted" }, "No failures."));
      return;
    }
    box.replaceChildren(...failing.map((job) => h("div", { class: "failure", "data-job-id": job.id },
      h("div", {}, h("button", { type: "button", class: "name-link", onclick: () => select(job.id) }, job.name),
        " ", badge(job.status), " ",
        h("span", { class: "muted" }, `${job.failure_count} failure${job.failure_count === 1 ? "" : "s"}, last run ${relative(job.last_run)}`)),
      h("div", { class: "err" }, job.error),
      job.traceback ? h("details", {}, h("summary", {}, "Traceback"), h("pre", { class: "tb" }, job.traceback)) : null,
    )));
  }

  // -- statistics ---------------------------------------------------------------------------
  async function refreshStats() {
    const st = await api("api/stats");
    const items = [
      ["jobs", st.jobs], ["running", st.running], ["fires", st.fires], ["failures", st.failures],
      ["skipped fires", st.skipped_fires], ["misfires", st.misfires], ["retries", st.retries],
      ["lateness p50", seconds(st.lateness_p50)], ["lateness p99", seconds(st.lateness_p99)],
      ["lateness max", seconds(st.lateness_max)],
    ];
    $("#stats").replaceChildren(...items.map(([label, value]) =>
      h("div", { class: "stat", "data-stat": label }, h("b", {}, value), h("span", {}, label))));
  }

  // -- job detail ---------------------------------------------------------------------------
  function select(jobId) {
    state.selected = jobId;
    for (const tr of document.querySelectorAll("#jobs tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.jobId === jobId);
    }
    refreshDetail().catch((e) => toast(e.message, true));
  }

  function barChart(values, cls, failed) {
    const W = 600, H = 130, L = 62, B = 18, T = 8;
    const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
    const finite = values.filter((v) => v !== null && v !== undefined);
    if (!finite.length) {
      svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no runs yet"));
      return svg;
    }
    const max = Math.max(...finite.map((v) => Math.max(v, 0)), 1e-6);
    const min = Math.min(0, ...finite);
    const span = max - min || 1;
    const y = (v) => T + (H - T - B) * (1 - (v - min) / span);
    svg.append(s("line", { class: "axis", x1: L, x2: W, y1: y(0), y2: y(0) }));
    svg.append(s("text", { x: L - 6, y: T + 8, "text-anchor": "end" }, seconds(max)));
    svg.append(s("text", { x: L - 6, y: y(0) + 4, "text-anchor": "end" }, "0"));
    const step = (W - L) / Math.max(values.length, 20);
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const top = Math.min(y(v), y(0)), height = Math.max(Math.abs(y(v) - y(0)), 1);
      const bar = s("rect", { class: failed[i] ? "bar-failed" : cls, x: L + i * step + step * 0.15,
        y: top, width: Math.max(step * 0.7, 1), height });
      bar.append(s("title", {}, `run ${i + 1}: ${seconds(v)}`));
      svg.append(bar);
    });
    svg.append(s("text", { x: L, y: H - 4 }, "oldest"));
    svg.append(s("text", { x: W, y: H - 4, "text-anchor": "end" }, "latest"));
    return svg;
  }

  async function refreshDetail() {
    const panel = $("#detail");
    if (!state.selected) { panel.hidden = true; return; }
    let body;
    try {
      body = await api(`api/jobs/${encodeURIComponent(state.selected)}?runs=50`);
    } catch (e) {
      panel.hidden = true; state.selected = null; throw e;
    }
    const job = body.job;
    panel.hidden = false;
    panel.dataset.jobId = job.id;
    $("#detail-title").textContent = job.name;
    $("#detail-status").replaceChildren(badge(job.status), " ", actionButtons(job));
    const fields = [
      ["id", h("code", {}, job.id)],
      ["function", h("code", {}, job.func || "—")],
      ["trigger", job.trigger ? `${job.trigger.description}  (${job.trigger.repr})` : "—"],
      ["next run", job.next_run ? `${local(job.next_run)} (${relative(job.next_run)})` : "—"],
      ["last run", job.last_run ? `${local(job.last_run)} (${relative(job.last_run)})` : "—"],
      ["runs", job.max_runs ? `${job.run_count} of ${job.max_runs}` : job.run_count],
      ["failures", job.failure_count],
      ["skipped fires", job.skipped_fires],
    ];
    if (job.options) {
      const o = job.options;
      fields.push(["options", `overlap ${o.overlap}, retries ${o.retries}, timeout ${o.timeout ?? "none"}, history ${o.history}`]);
    }
    if (job.depends_on.length) fields.push(["depends on", job.depends_on.join(", ")]);
    if (job.progress) fields.push(["progress", job.progress]);
    if (job.arguments === "shown") {
      const kw = Object.entries(job.kwargs || {}).map(([k, v]) => `${k}=${v}`);
      fields.push(["arguments", h("code", {}, `(${[...(job.args || []), ...kw].join(", ")})`)]);
      if (job.result !== null) fields.push(["last result", h("code", {}, job.result)]);
    } else {
      fields.push(["arguments", h("span", { class: "muted" }, job.arguments === "encrypted"
        ? "encrypted at rest: never shown" : "hidden (show_arguments=False)")]);
    }
    $("#detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    $("#detail-fires").replaceChildren(...(body.next_fires.length
      ? body.next_fires.map((t) => h("li", { title: t }, `${local(t)} (${relative(t)})`))
      : [h("li", { class: "muted" }, "none")]));
    const runs = body.last_runs;
    const failed = runs.map((r) => r.outcome !== "succeeded");
    $("#chart-duration").replaceChildren(barChart(runs.map((r) => r.duration), "bar-duration", failed));
    $("#chart-lateness").replaceChildren(barChart(runs.map((r) => r.lateness), "bar-lateness", runs.map(() => false)));
    $("#runs tbody").replaceChildren(...runs.slice().reverse().map((r) => h("tr", {},
      h("td", { title: r.scheduled_at }, local(r.scheduled_at)),
      h("td", { title: r.started_at }, local(r.started_at)),
      h("td", {}, badge(r.outcome)),
      h("td", { class: "num" }, r.attempt),
      h("td", { class: "num" }, seconds(r.duration)),
      h("td", { class: "num" }, seconds(r.lateness)),
      h("td", { class: "err" }, r.error || ""),
    )));
    if (!runs.length) $("#runs tbody").append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs yet.")));
    $("#detail-traceback").replaceChildren(...(job.traceback
      ? [h("h3", {}, "Last failure"), h("div", { class: "err mono" }, job.error), h("pre", { class: "tb" }, job.traceback)]
      : []));
  }

  // -- timeline -----------------------------------------------------------------------------
  async function refreshTimeline() {
    const body = await api(`api/timeline?hours=${state.hours}`);
    const start = new Date(body.now).getTime(), end = new Date(body.until).getTime();
    const lanes = body.jobs;
    const W = 1000, L = 170, R = 10, lane = 22, top = 22;
    const H = top + Math.max(lanes.length, 1) * lane + 6;
    const svg = s("svg", { class: "timeline", viewBox: `0 0 ${W} ${H}`, role: "img" });
    const x = (t) => L + (W - L - R) * (t - start) / (end - start);
    const tickMs = state.hours <= 1 ? 10 * 60e3 : state.hours <= 24 ? 2 * 3600e3 : 24 * 3600e3;
    for (let t = Math.ceil(start / tickMs) * tickMs; t <= end; t += tickMs) {
      svg.append(s("line", { class: "tick", x1: x(t), x2: x(t), y1: top - 4, y2: H }));
      const d = new Date(t);
      const label = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      svg.append(s("text", { x: x(t), y: 12, "text-anchor": "middle" }, label));
    }
    svg.append(s("line", { class: "now-line", x1: L, x2: L, y1: top - 6, y2: H }));
    if (!lanes.length) {
      svg.append(s("text", { x: (L + W) / 2, y: top + 14, "text-anchor": "middle" }, "no fires in this window"));
    }
    lanes.forEach((job, i) => {
      const cy = top + i * lane + lane / 2;
      const name = job.name.length > 24 ? job.name.slice(0, 23) + "…" : job.name;
      const label = s("text", { class: "lane-label", x: 4, y: cy + 4 }, name);
      label.append(s("title", {}, `${job.name}: ${job.fires.length}${job.truncated ? "+" : ""} fires`));
      svg.append(label);
      svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: cy, y2: cy }));
      for (const f of job.fires) {
        const dot = s("circle", { class: "dot " + job.status, cx: x(new Date(f).getTime()), cy, r: 4 });
        dot.append(s("title", {}, `${job.name}: ${local(f)}`));
        svg.append(dot);
      }
      if (job.truncated && job.fires.length) {
        const last = x(new Date(job.fires[job.fires.length - 1]).getTime());
        svg.append(s("text", { x: last + 8, y: cy + 4 }, "… more"));
      }
    });
    $("#timeline").replaceChildren(svg);
  }

  // -- refresh scheduling -------------------------------------------------------------------
  let pending = null, detailDirty = false;
  function refreshSoon(withDetail) {
    detailDirty = detailDirty || withDetail;
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const withD = detailDirty; detailDirty = false;
      try {
        await Promise.all([refreshJobs(), refreshStats(), withD ? refreshDetail() : null]);
      } catch (e) { /* shown by the next poll or action */ }
    }, 150);
  }

  function connect() {
    if (!window.EventSource) return;
    const live = $("#live");
    const source = new EventSource(BASE + "api/events");
    source.onopen = () => { live.textContent = "live"; live.className = "live on"; refreshSoon(true); };
    source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (msg) => {
        let data = {};
        try { data = JSON.parse(msg.data); } catch (e) { /* keep going */ }
        refreshSoon(!data.job_id || data.job_id === state.selected);
        if (type === "JobAdded" || type === "JobRemoved" || type === "JobPaused" ||
            type === "JobResumed" || type === "JobModified") refreshTimeline().catch(() => {});
      });
    }
  }

  async function start() {
    try {
      state.info = await api("api/info");
    } catch (e) {
      toast(e.message, true);
      return;
    }
    state.actionsAllowed = state.info.actions_allowed;
    $("#actions-note").hidden = state.actionsAllowed;
    const select = $("#filter-status");
    for (const st of state.info.statuses) select.append(h("option", { value: st }, st));
    select.addEventListener("change", () => refreshSoon(false));
    let typing = null;
    $("#filter-name").addEventListener("input", () => {
      clearTimeout(typing); typing = setTimeout(() => refreshSoon(false), 200);
    });
    $("#detail-close").addEventListener("click", () => { state.selected = null; $("#detail").hidden = true; refreshSoon(false); });
    for (const button of document.querySelectorAll(".seg button")) {
      button.addEventListener("click", () => {
        state.hours = Number(button.dataset.hours);
        for (const b of document.querySelectorAll(".seg button")) b.classList.toggle("on", b === button);
        refreshTimeline().catch((e) => toast(e.message, true));
      });
    }
    await Promise.all([refreshJobs(), refreshStats(), refreshTimeline()]).catch((e) => toast(e.message, true));
    connect();
    // Polling as well: relative times age, and it covers proxies that buffer event streams.
    setInterval(() => refreshSoon(true), 5000);
    setInterval(() => refreshTimeline().catch(() => {}), 30000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
