// The operator's console: polls /admin/console/... with the admin key (a Bearer header) and
// draws the series with uPlot. window.flightdeckConsole exposes the charts and the last data
// (tests read the rendered points from there).
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#2451b8", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#e67700", "#5c940d", "#495057"];
const KEY_STORE = "flightdeck.consoleKey";  // sessionStorage: gone when the tab closes

const state = {
  key: sessionStorage.getItem(KEY_STORE) || "",
  range: "1h",
  tenant: "",
  refreshSeconds: 10,
  timer: null,
  updates: 0,
  generation: 0,
  data: {},
  charts: {},
  connected: false,
  experiment: "",  // "<tenant>/<id>" of the experiment shown
  experimentAt: 0,  // when it was last read (ms)
  experimentUpdates: 0,
};
window.flightdeckConsole = state;

const params = new URLSearchParams(location.search);
const refreshOverride = Number(params.get("refresh"));
if (params.get("range")) state.range = params.get("range");

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` }, cache: "no-store" });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error.message || message;
    } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return res.json();
}

function query(extra = {}) {
  const q = new URLSearchParams({ range: state.range, ...extra });
  if (state.tenant) q.set("tenant", state.tenant);
  return q.toString();
}

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// ---- formatting ------------------------------------------------------------------------------

function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return "-";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return n.toFixed(digits);
}
const fmtMs = (v) => (v === null || v === undefined ? "-" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(0) + " ms");
const fmtMoney = (v) => (v === null || v === undefined ? "-" : "$" + (v >= 100 ? v.toFixed(0) : v.toFixed(v >= 1 ? 2 : 4)));
const sum = (xs) => xs.reduce((a, b) => a + (b || 0), 0);

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fillTable(id, rows, render) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    render(tr, r);
    body.appendChild(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(tr, "none", "muted");
    td.colSpan = $(id).querySelectorAll("th").length;
    body.appendChild(tr);
  }
}

// ---- charts ----------------------------------------------------------------------------------

function chartWidth(el) {
  return Math.max(280, el.clientWidth || el.parentElement.clientWidth - 24);
}

// Points where a series has data, when it has few: a lone bucket has no line to show it.
function sparsePoints(u, seriesIdx) {
  const ys = u.data[seriesIdx];
  const idx = [];
  for (let i = 0; i < ys.length; i++) if (ys[i] !== null && ys[i] !== 0) idx.push(i);
  return idx.length < 30 ? idx : [];
}

// Draws (or updates) one chart: x = bucket starts (Unix seconds), one line per series.
function draw(name, x, series, opts = {}) {
  const el = $(`chart-${name}`);
  const signature = series.map((s) => s.label).join("|");
  let chart = state.charts[name];
  const data = [x, ...series.map((s) => s.values)];
  if (chart && chart.signature === signature) {
    chart.setData(data);
    return chart;
  }
  if (chart) chart.destroy();
  const config = {
    width: chartWidth(el),
    height: 200,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [{}, { size: 72, values: (u, ticks) => ticks.map(opts.tick || ((t) => fmtNumber(t, t < 10 ? 2 : 0))) }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i % COLORS.length],
        width: 1.6,
        spanGaps: true,
        points: { show: true, size: 5, filter: sparsePoints },
        value: (u, v) => (opts.value ? opts.value(v) : fmtNumber(v, 2)),
      })),
    ],
  };
  el.replaceChildren();
  chart = new uPlot(config, data, el);
  chart.signature = signature;
  state.charts[name] = chart;
  return chart;
}

function drawTraffic(t) {
  const x = t.times;
  const rate = (xs) => xs.map((v) => v / t.step);
  draw("requests", x, [
    { label: "requests/s", values: rate(t.requests) },
    { label: "errors/s", values: rate(t.errors), color: "#c92a2a" },
  ]);
  const errorRate = t.requests.map((n, i) => (n ? (100 * t.errors[i]) / n : null));
  draw("errors", x, [{ label: "error rate %", values: errorRate, color: "#c92a2a" }], {
    value: (v) => (v === null ? "-" : v.toFixed(1) + "%"),
  });
  const pct = (src, prefix) => ["p50", "p95", "p99"].map((p, i) => ({
    label: `${prefix} ${p}`,
    values: src[p],
    color: ["#2b8a3e", "#e67700", "#c92a2a"][i],
  }));
  draw("latency", x, pct(t.latency_ms, "latency"), { value: fmtMs, tick: fmtMs });
  draw("ttft", x, pct(t.ttft_ms, "TTFT"), { value: fmtMs, tick: fmtMs });
  draw("limited", x, [{ label: "rejected/s", values: rate(t.limited), color: "#862e9c" }]);
  fillTable("limited-by", Object.entries(t.limited_by), (tr, [reason, n]) => {
    cell(tr, reason);
    cell(tr, fmtNumber(n), "num");
  });
  const cache = t.cache;
  $("cache-absent").hidden = !!cache;
  $("chart-cache").hidden = !cache;
  if (cache) {
    const rate = cache.hit_rate.map((r) => (r === null ? null : 100 * r));
    draw("cache", x, [{ label: "hit rate %", values: rate, color: "#2b8a3e" }], {
      value: (v) => (v === null ? "-" : v.toFixed(1) + "%"),
    });
  }
  $("cache-saved").textContent = cache && cache.saved_cost ? `saved ${fmtMoney(sum(cache.saved_cost))}` : "";
  const seconds = t.times.length * t.step;
  const requests = sum(t.requests);
  $("kpi-requests").textContent = fmtNumber(requests);
  $("kpi-rps").textContent = fmtNumber(requests / seconds, 2);
  $("kpi-errors").textContent = requests ? ((100 * sum(t.errors)) / requests).toFixed(1) + "%" : "-";
  const p95 = t.latency_ms.p95.filter((v) => v !== null);
  $("kpi-p95").textContent = p95.length ? fmtMs(Math.max(...p95)) : "-";
  $("kpi-tokens").textContent = fmtNumber(sum(t.input_tokens) + sum(t.output_tokens));
  $("kpi-spend").textContent = fmtMoney(sum(t.cost));
  $("kpi-limited").textContent = fmtNumber(sum(t.limited));
  const lookups = cache ? sum(cache.lookups) : 0;
  $("kpi-cache").textContent = lookups ? ((100 * sum(cache.hits)) / lookups).toFixed(1) + "%" : "-";
}

function drawUsage(u) {
  const label = (s) => (s.tenant === "*" ? "other" : `${s.tenant} / ${s.model}`);
  const lines = (field) => u.series.map((s) => ({ label: label(s), values: s[field] }));
  draw("tokens", u.times, lines("tokens"));
  draw("spend", u.times, lines("cost"), { value: fmtMoney, tick: fmtMoney });
}

function drawSlow(s) {
  fillTable("slow", s.data, (tr, r) => {
    cell(tr, new Date(r.ts).toLocaleTimeString());
    cell(tr, r.tenant);
    cell(tr, r.model);
    cell(tr, String(r.status), "num");
    cell(tr, fmtMs(r.latency_ms), "num");
    cell(tr, fmtMs(r.ttft_ms), "num");
    const td = cell(tr, "", "trace");
    if (r.trace_id && r.trace_url) {
      const a = document.createElement("a");
      a.href = r.trace_url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = r.trace_id;
      td.appendChild(a);
    } else {
      td.textContent = r.trace_id || "-";
    }
  });
}

function drawLive(live) {
  fillTable("circuits", live.circuits, (tr, c) => {
    cell(tr, c.deployment);
    cell(tr, c.model);
    const span = document.createElement("span");
    span.className = `state state-${c.state}`;
    span.textContent = c.state.replace("_", "-");
    cell(tr, "").appendChild(span);
  });
  $("metrics-section").hidden = !live.metrics;
  if (live.metrics) {
    fillTable("metrics", live.metrics, (tr, m) => {
      cell(tr, m.name);
      cell(tr, Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(", "));
      cell(tr, fmtNumber(m.value, 2), "num");
    });
  }
}

// ---- experiments -----------------------------------------------------------------------------
// The list and the chosen experiment come from /admin/console/experiments (the admin API's
// results and, per metric, looks over time); the chosen one is re-read at most every 30 s.

const EXPERIMENT_SECONDS = 30;
const pct = (xs) => xs.map((y) => (y === null || y === undefined ? null : 100 * y));
const fmtPct = (v) => (v === null || v === undefined ? "-" : (v > 0 ? "+" : "") + v.toFixed(1) + "%");
function fmtValue(v) {
  if (v === null || v === undefined) return "-";
  return Math.abs(v) < 100 ? v.toPrecision(3) : fmtNumber(v, 0);
}
const fmtCi = (ci, f) => (ci && ci[0] !== null && ci[1] !== null ? `[${f(ci[0])}, ${f(ci[1])}]` : "-");

function experimentRef(e) {
  return `${e.tenant}/${e.id}`;
}

function dropExperimentCharts() {
  for (const name of Object.keys(state.charts)) {
    if (name.startsWith("exp-")) {
      state.charts[name].destroy();
      delete state.charts[name];
    }
  }
}

async function refreshExperiments(force = false) {
  const tenant = state.tenant ? "?tenant=" + encodeURIComponent(state.tenant) : "";
  const listed = await api(`/admin/console/experiments${tenant}`);
  state.data.experiments = listed.data;
  const select = $("experiment");
  const known = listed.data.map(experimentRef);
  if (!known.includes(state.experiment)) {
    const running = listed.data.filter((e) => e.status === "running");
    const pick = running.length ? running[running.length - 1] : listed.data[listed.data.length - 1];
    state.experiment = pick ? experimentRef(pick) : "";
    force = true;
  }
  select.replaceChildren(...listed.data.map((e) => new Option(
    `${state.tenant || !listed.tenant ? e.tenant + " / " : ""}${e.key} (${e.status}, ${e.target.kind} ${e.target.name})`,
    experimentRef(e),
  )));
  select.value = state.experiment;
  $("exp-none").hidden = listed.data.length > 0;
  select.disabled = !listed.data.length;
  if (!state.experiment) {
    state.data.experiment = null;
    drawExperiment(null);
    return;
  }
  const age = (Date.now() - (state.experimentAt || 0)) / 1000;
  if (!force && age < EXPERIMENT_SECONDS) return;
  const cut = state.experiment.lastIndexOf("/");
  const [owner, id] = [state.experiment.slice(0, cut), state.experiment.slice(cut + 1)];
  let view;
  try {
    view = await api(`/admin/console/experiments/${id}?tenant=${encodeURIComponent(owner)}`);
  } catch (err) {  // never leave the previous experiment's charts under this one's name
    state.data.experiment = null;
    drawExperiment(null);
    $("exp-about").textContent = `Could not read this experiment: ${err.message}`;
    throw err;
  }
  state.experimentAt = Date.now();
  state.data.experiment = view;
  drawExperiment(view);
  state.experimentUpdates = (state.experimentUpdates || 0) + 1;
}

function drawExperiment(view) {
  dropExperimentCharts();
  $("exp-metrics").replaceChildren();
  $("exp-srm").replaceChildren();
  $("exp-about").textContent = "";
  fillTable("exp-units", [], () => {});
  if (!view) return;
  const e = view.experiment;
  const r = view.results;
  const srm = r.sample_ratio;
  const badge = document.createElement("span");
  badge.className = `state state-${srm.mismatch ? "mismatch" : "ok"}`;
  const p = srm.p_value === null ? "-" : srm.p_value.toPrecision(2);
  badge.textContent = srm.mismatch ? `sample ratio mismatch (p = ${p})` : `sample ratio ok (p = ${p})`;
  $("exp-srm").appendChild(badge);
  $("exp-about").textContent = `unit ${e.unit}, target ${e.target.kind} ${e.target.name}, coverage ${Math.round(100 * e.coverage)}%`;
  const total = Object.values(r.units).reduce((a, b) => a + b, 0);
  fillTable("exp-units", e.variants.map((v, i) => [v, srm.expected[i]]), (tr, [v, expected]) => {
    cell(tr, v.name);
    cell(tr, v.weight === null ? "equal" : v.weight.toFixed(2), "num");
    cell(tr, fmtNumber(r.units[v.name] || 0), "num");
    cell(tr, expected === undefined ? "-" : fmtNumber(expected, 1), "num");
    cell(tr, total ? ((100 * (r.units[v.name] || 0)) / total).toFixed(1) + "%" : "-", "num");
  });
  const history = Object.fromEntries(view.over_time.map((m) => [m.name, m]));
  r.metrics.forEach((m, i) => drawMetric(`exp-${i}`, m, history[m.name]));
  if (!r.metrics.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "No metric has two units in every variant yet.";
    $("exp-metrics").appendChild(p);
  }
}

function drawMetric(name, m, looks) {
  const box = document.createElement("div");
  box.className = "exp-metric";
  const title = document.createElement("h3");
  title.textContent = `${m.name} `;
  const kind = document.createElement("span");
  kind.className = "muted";
  kind.textContent = `(${m.kind} metric${m.cuped ? ", CUPED" : ""}; against ${m.control})`;
  title.appendChild(kind);
  const chartEl = document.createElement("div");
  chartEl.id = `chart-${name}`;
  chartEl.className = "chart";
  const table = document.createElement("table");
  table.id = `table-${name}`;
  const head = table.createTHead().insertRow();
  for (const h of ["variant", "units", "mean", "diff", "diff %", "always-valid 95% CI", "p"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  table.createTBody();
  box.append(title, chartEl, table);
  $("exp-metrics").appendChild(box);
  const byVariant = Object.fromEntries(m.comparisons.map((c) => [c.variant, c]));
  fillTable(table.id, m.variants, (tr, v) => {
    const c = byVariant[v.variant];
    cell(tr, v.variant);
    cell(tr, fmtNumber(v.units), "num");
    cell(tr, fmtValue(v.value), "num");
    cell(tr, c ? fmtValue(c.absolute) : "control", "num");
    cell(tr, c && c.relative !== null ? fmtPct(100 * c.relative) : "-", "num");
    const ci = c ? c.sequential_ci : null;
    const significant = ci && ci[0] !== null && ci[1] !== null && (ci[0] > 0 || ci[1] < 0);
    cell(tr, c ? fmtCi(ci, fmtValue) : "-", significant ? "num significant" : "num");
    cell(tr, c && c.sequential_p_value !== null ? c.sequential_p_value.toPrecision(2) : "-", "num");
  });
  if (looks && looks.times.length) drawLooks(name, chartEl, looks);
}

// Tick labels with as many decimals as their spacing needs (0.05% apart: two).
function percentTicks(u, ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const digits = Math.min(6, Math.max(0, -Math.floor(Math.log10(step || 1))));
  return ticks.map((t) => (Math.abs(t) < step / 2 ? 0 : t).toFixed(digits) + "%");
}

// At least 2 points of % tall: a difference of nothing (rounding noise) draws flat, not magnified.
function percentRange(u, min, max) {
  if (min === null || max === null) return [-1, 1];
  const pad = Math.max((max - min) * 0.05, (2 - (max - min)) / 2, 0);
  return [min - pad, max + pad];
}

// One line per treatment (relative difference, %), its always-valid interval as a band and the
// fixed-horizon interval dashed; a black line at 0 (no difference).
function drawLooks(name, el, looks) {
  const data = [looks.times];
  const series = [{}];
  const bands = [];
  looks.variants.forEach((v, i) => {
    const color = COLORS[(i + 1) % COLORS.length];
    const at = data.length;
    data.push(pct(v.relative), pct(v.sequential_high), pct(v.sequential_low), pct(v.high), pct(v.low));
    const bound = (label, dash) => ({ label, stroke: color + "99", width: 1, dash, points: { show: false }, spanGaps: true, value: (u, y) => fmtPct(y) });
    series.push(
      { label: `${v.variant} vs ${looks.control}`, stroke: color, width: 2, spanGaps: true, points: { show: true, size: 6 }, value: (u, y) => fmtPct(y) },
      bound(`${v.variant} always-valid high`),
      bound(`${v.variant} always-valid low`),
      bound(`${v.variant} fixed-horizon high`, [4, 4]),
      bound(`${v.variant} fixed-horizon low`, [4, 4]),
    );
    bands.push({ series: [at + 1, at + 2], fill: color + "2e" });
  });
  data.push(looks.times.map(() => 0));
  series.push({ label: "no difference", stroke: "#1d2330", width: 1, points: { show: false } });
  const chart = new uPlot({
    width: chartWidth(el),
    height: 200,
    cursor: { drag: { x: false, y: false } },
    legend: { show: false },  // the section's caption says what the line, band and dashes are
    scales: { x: { time: true }, y: { range: percentRange } },
    axes: [{}, { size: 72, values: percentTicks }],
    series,
    bands,
  }, data, el);
  chart.looks = looks;
  state.charts[name] = chart;
}

// ---- polling ---------------------------------------------------------------------------------

function refuse(message) {
  state.connected = false;
  clearTimeout(state.timer);
  for (const chart of Object.values(state.charts)) chart.destroy();
  state.charts = {};
  state.data = {};
  state.experiment = "";
  state.experimentAt = 0;
  $("exp-metrics").replaceChildren();
  sessionStorage.removeItem(KEY_STORE);
  $("dashboard").hidden = true;
  $("tenant-label").hidden = true;
  $("refused").hidden = false;
  $("refused").textContent = message;
  setStatus("Not connected.", true);
}

async function refresh() {
  clearTimeout(state.timer);
  const generation = ++state.generation;  // a newer refresh (range, tenant, key) wins
  try {
    const live = await api(`/admin/console/live?${state.tenant ? "tenant=" + encodeURIComponent(state.tenant) : ""}`);
    const [traffic, usage, slow] = await Promise.all([
      api(`/admin/console/traffic?${query()}`),
      api(`/admin/console/usage?${query()}`),
      api(`/admin/console/slow?${query({ limit: 10 })}`),
    ]);
    if (generation !== state.generation) return;
    if (!state.connected) await connected(live);
    state.data = { live, traffic, usage, slow };
    drawTraffic(traffic);
    drawUsage(usage);
    drawSlow(slow);
    drawLive(live);
    try {
      await refreshExperiments();
      $("exp-error").hidden = true;
    } catch (err) {
      if (err.status === 401 || err.status === 403) throw err;
      $("exp-error").hidden = false;
      $("exp-error").textContent = `Experiments: ${err.message}`;
    }
    state.updates += 1;
    setStatus(`Updated ${new Date().toLocaleTimeString()} (every ${pollSeconds()} s)`);
  } catch (err) {
    if (generation !== state.generation) return;
    if (err.status === 401 || err.status === 403) {
      refuse(`Refused: ${err.message}`);
      return;
    }
    setStatus(`Update failed: ${err.message}`, true);
  }
  if (state.connected) state.timer = setTimeout(refresh, pollSeconds() * 1000);
}

// Long ranges change slowly: a 30-day chart (6-hour buckets) is polled once a minute.
function pollSeconds() {
  const step = state.data.traffic ? state.data.traffic.step : 0;
  return Math.max(state.refreshSeconds, Math.min(60, step / 360));
}

async function connected(live) {
  state.connected = true;
  state.refreshSeconds = refreshOverride > 0 ? refreshOverride : live.refresh_seconds;
  sessionStorage.setItem(KEY_STORE, state.key);
  $("refused").hidden = true;
  $("dashboard").hidden = false;
  if (live.platform_admin) {
    const tenants = await api("/admin/tenants");
    const select = $("tenant");
    select.replaceChildren(new Option("all tenants", ""));
    for (const t of tenants) select.appendChild(new Option(t.name, t.name));
    select.value = state.tenant;
    $("tenant-label").hidden = false;
  }
}

function connect() {
  state.key = $("api-key").value.trim();
  state.connected = false;
  if (!state.key) {
    refuse("Refused: paste an admin key.");
    return;
  }
  setStatus("Connecting...");
  refresh();
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});
$("range").value = state.range;
$("range").addEventListener("change", () => {
  state.range = $("range").value;
  if (state.connected) refresh();
});
$("tenant").addEventListener("change", () => {
  state.tenant = $("tenant").value;
  if (state.connected) refresh();
});
$("experiment").addEventListener("change", () => {
  state.experiment = $("experiment").value;
  if (state.connected) refreshExperiments(true).catch((err) => setStatus(`Update failed: ${err.message}`, true));
});
window.addEventListener("resize", () => {
  for (const [name, chart] of Object.entries(state.charts)) {
    chart.setSize({ width: chartWidth($(`chart-${name}`)), height: 200 });
  }
});
if (state.key) {
  $("api-key").value = state.key;
  connect();
}
