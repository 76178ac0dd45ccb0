// streamlab's dashboard: renders only what GET /api/state returns, pushed by /api/events.
"use strict";

const COLORS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];
const charts = {};
let latest = null;

function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}
function shortIso(text) {
  return text ? text.replace("T", " ").slice(11, 19) : "-";
}
function el(id) {
  return document.getElementById(id);
}
function esc(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

Chart.defaults.animation = false;
Chart.defaults.font.size = 11;
Chart.defaults.maintainAspectRatio = false;

function timeAxis(title) {
  return { type: "linear", title: { display: !!title, text: title }, ticks: { callback: (v) => clock(v), maxTicksLimit: 8 } };
}

function makeTimeChart(id) {
  return new Chart(el(id), {
    type: "scatter",
    data: {
      datasets: [
        { label: "on time", data: [], pointRadius: 2, backgroundColor: "#2563eb88" },
        { label: "dropped as late", data: [], pointRadius: 3.5, backgroundColor: "#dc2626", pointStyle: "crossRot", borderColor: "#dc2626" },
        { label: "quarantined (clock ahead)", data: [], pointRadius: 3, backgroundColor: "#6b7280", pointStyle: "triangle" },
        { label: "watermark (Spark's)", data: [], type: "line", stepped: "before", borderColor: "#111827", borderWidth: 2, pointRadius: 1.5, showLine: true },
        { label: "next batch's watermark (computed)", data: [], type: "line", borderColor: "#111827", borderWidth: 2, borderDash: [6, 4], pointRadius: 0, showLine: true },
      ],
    },
    options: {
      scales: { x: timeAxis("arrival time (UTC)"), y: { ...timeAxis("event time"), ticks: { callback: (v) => clock(v), autoSkip: false } } },
      plugins: {
        tooltip: { callbacks: { label: (c) => (c.raw.id ? c.raw.id + " " : "") + "event " + clock(c.raw.y) + ", arrived " + clock(c.raw.x) } },
      },
    },
  });
}

function setup() {
  for (const s of ["events", "impressions", "clicks"]) charts[s] = makeTimeChart("chart-" + s);
  charts.windows = new Chart(el("chart-windows"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "events in window", data: [], backgroundColor: [] }] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => { const w = latest.windows[items[0].dataIndex]; return "window " + shortIso(w.start) + "-" + shortIso(w.end) + ": " + w.status; },
            label: (c) => {
              const w = latest.windows[c.dataIndex];
              const out = ["count " + w.count + (w.emitted_batch !== null ? ", emitted in batch " + w.emitted_batch : "")];
              const types = Object.entries(w.by_type).map(([k, v]) => k + " " + v).join(", ");
              if (types) out.push(types);
              if (w.events.length) out.push("events: " + w.events.slice(0, 6).join(" ") + (w.landed_events > 6 ? " …" : ""));
              if (w.dropped_late) out.push("dropped as late: " + w.dropped_late);
              return out;
            },
          },
        },
      },
      scales: { y: { beginAtZero: true, title: { display: true, text: "events" } } },
    },
  });
  charts.state = new Chart(el("chart-state"), {
    type: "line",
    data: { datasets: [] },
    options: { scales: { x: timeAxis(), y: { beginAtZero: true, title: { display: true, text: "state rows" } }, y2: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "dropped by watermark" } } } },
  });
  charts.join = new Chart(el("chart-join"), {
    type: "line",
    data: { datasets: [
      { label: "rows waiting in join state", data: [], borderColor: COLORS[0], pointRadius: 0 },
      { label: "clicks matched", data: [], borderColor: COLORS[2], pointRadius: 0 },
      { label: "NULL rows (impressions without a click)", data: [], borderColor: COLORS[1], pointRadius: 0 },
    ] },
    options: { scales: { x: timeAxis(), y: { beginAtZero: true } } },
  });
  charts.rates = new Chart(el("chart-rates"), {
    type: "line",
    data: { datasets: [] },
    options: { scales: { x: timeAxis(), y: { beginAtZero: true, title: { display: true, text: "rows/s" } }, y2: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "batch ms" } } } },
  });
}

function renderHeader(s) {
  el("mode").textContent = s.mode === "live" ? "live" : s.mode === "run" ? "run" : "finished lab (read-only)";
  const processed = Object.values(s.batch.processed);
  el("current-batch").textContent = processed.length ? Math.max(...processed) : "-";
  for (const [id, p] of [["events", s.pictures.events], ["join", s.pictures.impressions]]) {
    // Spark's own watermark once it reports one; before that, the next batch's, or, before
    // Spark's first batch, the one the landed batches will give it: each said so.
    const kind = p.watermark_kind;
    const ahead = kind === "next" || kind === "landed";
    el("watermark-" + id).textContent = kind ? shortIso(ahead ? p.next_watermark.watermark : p.watermark) : "-";
    el("watermark-" + id + "-kind").textContent =
      kind === "next" ? "(next batch's, computed from batch " + p.next_watermark.after_batch + ")"
      : kind === "landed" ? "(once Spark reads the batches landed so far, by Spark's rule; Spark is starting)"
      : "";
  }
  el("late-count").textContent = s.late_events.total;
  el("windows-emitted").textContent = s.windows.filter((w) => w.status === "emitted").length;
  el("updated").textContent = "updated " + shortIso(s.now) + " UTC";
  el("spark-ui").innerHTML = s.spark_ui ? '<a href="' + esc(s.spark_ui) + '" target="_blank">Spark UI</a>' : "";
  const cases = el("cases");
  const names = { "late-burst": "late burst", idle: "idle input (impressions stop)", skew: "clock ahead (skew)" };
  cases.innerHTML = "";
  for (const name of s.cases.available) {
    const on = s.cases.active.includes(name);
    const b = document.createElement("button");
    b.textContent = (on ? "stop " : "") + names[name];
    b.dataset.case = name;
    b.className = on ? "on" : "";
    b.onclick = () => fetch("/api/case/" + name + "?on=" + (on && name !== "late-burst" ? "0" : "1"), { method: "POST" });
    cases.appendChild(b);
  }
  if (s.cases.active.includes("state")) {
    const span = document.createElement("span");
    span.textContent = "case: state that grows (watermark delay " + s.settings.watermark_delay_ms / 1000 + " s)";
    cases.appendChild(span);
  }
}

function renderPicture(source, p) {
  const c = charts[source];
  const pick = (k) => p.dots.filter((d) => d[2] === k).map((d) => ({ x: d[0], y: d[1], id: d[3] }));
  c.data.datasets[0].data = pick("o");
  c.data.datasets[1].data = pick("l");
  c.data.datasets[2].data = pick("q");
  c.data.datasets[3].data = p.watermark_line.map((d) => ({ x: d[0], y: d[1] }));
  const next = p.next_watermark ? p.next_watermark.line : [];
  c.data.datasets[4].data = next.map((d) => ({ x: d[0], y: d[1] }));
  c.data.datasets[4].label = p.watermark_kind === "landed" ? "watermark once Spark reads these (computed)" : "next batch's watermark (computed)";
  const ys = p.dots.map((d) => d[1]).concat(p.watermark_line.map((d) => d[1]), next.map((d) => d[1]));
  if (ys.length) {
    const w = p.window_ms;
    const lo = Math.floor(Math.min(...ys) / w) * w;
    const hi = Math.ceil(Math.max(...ys) / w) * w;
    // A grid line at every window boundary (at most 60), a label on every few of them.
    const grid = Math.max(1, Math.ceil((hi - lo) / w / 60));
    const label = Math.max(1, Math.ceil((hi - lo) / w / grid / 8));
    c.options.scales.y.min = lo;
    c.options.scales.y.max = hi;
    c.options.scales.y.ticks.stepSize = w * grid;
    c.options.scales.y.ticks.callback = (v) => (Math.round((v - lo) / (w * grid)) % label === 0 ? clock(v) : "");
  }
  c.update();
}

function renderWindows(s) {
  const c = charts.windows;
  c.data.labels = s.windows.map((w) => shortIso(w.start));
  c.data.datasets[0].data = s.windows.map((w) => w.count);
  c.data.datasets[0].backgroundColor = s.windows.map((w) => (w.status === "emitted" ? "#059669" : w.status === "closing" ? "#f59e0b" : "#93c5fd"));
  c.update();
}

function series(chart, specs) {
  chart.data.datasets = specs;
  chart.update();
}

function renderState(s) {
  const specs = [];
  let i = 0;
  for (const [q, h] of Object.entries(s.history)) {
    if (!h.some((r) => r.operators.length)) continue;
    specs.push({ label: q, data: h.map((r) => ({ x: r.at, y: r.state_rows })), borderColor: COLORS[i % COLORS.length], pointRadius: 0 });
    specs.push({ label: q + " dropped", type: "bar", yAxisID: "y2", data: h.filter((r) => r.dropped_by_watermark).map((r) => ({ x: r.at, y: r.dropped_by_watermark })), backgroundColor: COLORS[i % COLORS.length] + "88", barThickness: 4 });
    i++;
  }
  series(charts.state, specs);
}

function renderJoin(s) {
  const j = s.join;
  el("join-numbers").innerHTML = "<span>waiting <b id='join-waiting'>" + j.rows_waiting + "</b></span><span>matched <b>" + j.clicks_matched + "</b></span><span>NULL rows <b>" + j.null_rows + "</b></span>";
  const c = charts.join;
  c.data.datasets[0].data = j.history.map((p) => ({ x: p.at, y: p.waiting }));
  c.data.datasets[1].data = j.history.map((p) => ({ x: p.at, y: p.matched }));
  c.data.datasets[2].data = j.history.map((p) => ({ x: p.at, y: p.null_rows }));
  c.update();
}

function renderRates(s) {
  const specs = [];
  const h = s.history["windowed_agg/tumbling"] || [];
  specs.push({ label: "input rows/s", data: h.map((r) => ({ x: r.at, y: r.input_rate })), borderColor: COLORS[0], pointRadius: 0 });
  specs.push({ label: "processed rows/s", data: h.map((r) => ({ x: r.at, y: r.processing_rate })), borderColor: COLORS[2], pointRadius: 0 });
  let i = 3;
  for (const [q, rows] of Object.entries(s.history)) {
    specs.push({ label: q + " ms", yAxisID: "y2", data: rows.map((r) => ({ x: r.at, y: r.duration_ms })), borderColor: COLORS[i % COLORS.length] + "99", borderWidth: 1, pointRadius: 0, borderDash: [3, 3] });
    i++;
  }
  series(charts.rates, specs);
}

function renderVerdict(s) {
  const v = s.verdict;
  const t = el("verdict");
  if (!v) { t.innerHTML = "<tr><td class='muted'>Waiting for the first comparison…</td></tr>"; }
  else if (v.error) { t.innerHTML = "<tr><td class='no'>" + esc(v.error) + "</td></tr>"; }
  else {
    t.innerHTML = "<tr><th>what</th><th>Spark</th><th>model</th><th></th><th>detail</th></tr>" + v.comparisons.map((c) =>
      "<tr><td>" + c.name.replace(/_/g, " ") + "</td><td>" + (c.spark ?? "-") + "</td><td>" + (c.model ?? "-") + "</td><td class='" + (c.ok ? "yes" : "no") + "'>" + (c.ran ? (c.ok ? "✓" : "✗") : "not run") + "</td><td class='muted'>" + esc(c.detail) + "</td></tr>").join("");
  }
  el("late").innerHTML = "<tr><th>event</th><th>event time</th><th>watermark missed</th><th>late by</th></tr>" + s.late_events.recent.slice(-8).reverse().map((r) =>
    "<tr><td>" + esc(r.event_id) + "</td><td>" + shortIso(r.event_time) + "</td><td>" + shortIso(r.late_watermark) + "</td><td>" + (r.lateness_ms / 1000).toFixed(0) + " s</td></tr>").join("");
}

function renderWarnings(s) {
  const ul = el("warnings");
  if (!s.warnings.length) { ul.innerHTML = "<li class='ok'>No problems in the recent batches.</li>"; return; }
  ul.innerHTML = s.warnings.map((w) => "<li class='warn' data-symptom='" + esc(w.symptom) + "'><b>" + esc(w.query) + ": " + esc(w.symptom.replace(/_/g, " ")) + "</b>: " + esc(w.detail) + " <span class='fix'>Fix: " + esc(w.remedy) + "</span></li>").join("");
}

function render(s) {
  latest = s;
  renderHeader(s);
  for (const src of ["events", "impressions", "clicks"]) renderPicture(src, s.pictures[src]);
  renderWindows(s);
  renderState(s);
  renderJoin(s);
  renderRates(s);
  renderVerdict(s);
  renderWarnings(s);
  document.body.dataset.version = String((+document.body.dataset.version || 0) + 1);
}

setup();
fetch("/api/state").then((r) => r.json()).then(render);
const source = new EventSource("/api/events");
source.onmessage = (e) => render(JSON.parse(e.data));
