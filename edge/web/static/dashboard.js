// Live dashboard: one server-sent-event stream (every message a full /api/status document); /api/health for
// the health banner (the stream is quiet while no frame comes, health is not); /api/history for the charts;
// /api/monitoring and /api/sessions polled. Charts are plain SVG drawn here: no library, no inline style.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function text(el, value) { el.textContent = value; }

function row(cells, tag = "td") {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement(tag); td.textContent = c; tr.appendChild(td); }
  return tr;
}

function item(value) {
  const li = document.createElement("li");
  li.textContent = value;
  return li;
}

function loginAgain() { // the login expired (or the token changed)
  window.location.assign("/login?next=/");
}

function renderFaces(latest) {
  const box = $("faces");
  box.replaceChildren();
  const faces = latest ? latest.faces : [];
  $("no-faces").hidden = faces.length > 0;
  for (const f of faces) {
    const div = document.createElement("div");
    div.className = "face";
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = `face ${f.id}${f.id === latest.primary_id ? " (primary)" : ""}: ${f.label} ` +
      `(${Math.round(f.confidence * 100)} %)`;
    title.title = "Each bar: the model's estimate of the share of people who would read this face that way";
    div.appendChild(title);
    for (const [label, p] of Object.entries(f.probabilities).sort((a, b) => b[1] - a[1])) {
      const bar = document.createElement("div");
      bar.className = "bar";
      const name = document.createElement("span"); name.textContent = label;
      const fill = document.createElement("span"); fill.className = "fill"; fill.style.width = `${p * 12}rem`;
      const pct = document.createElement("span"); pct.textContent = `${Math.round(p * 100)} %`;
      bar.append(name, fill, pct);
      div.appendChild(bar);
    }
    box.appendChild(div);
  }
}

// ---- health: a banner with the reasons whenever it is not ok --------------------------------------------------

const HEALTH_TITLES = {
  degraded: "Degraded: the booth runs, but not as it should",
  failing: "Failing: the booth is not working",
  unreachable: "No answer from the daemon",
};
let shownHealth = "";

function renderHealth(h) {
  const key = JSON.stringify(h);
  if (key === shownHealth) return; // the stream repeats it ten times a second: redraw on a change only
  shownHealth = key;
  const badge = $("health");
  badge.className = `badge ${h.status}`;
  text(badge, h.status);
  const banner = $("health-banner");
  banner.className = `banner ${h.status}`;
  banner.hidden = h.status === "ok";
  text($("health-title"), HEALTH_TITLES[h.status] || h.status);
  $("health-reasons").replaceChildren(...h.reasons.map(item));
}

async function refreshHealth() {
  try {
    const response = await fetch("/api/health", { headers: { Accept: "application/json" } });
    renderHealth(await response.json()); // 200 when ok or degraded, 503 when failing: the same document
  } catch (e) {
    renderHealth({ status: "unreachable", reasons: [
      "the dashboard gets no answer from /api/health: the daemon may be restarting or stopped"] });
  }
}

// ---- the source: a banner when it is a recording, not a live camera ---------------------------------------------

let shownSource = "";

function renderSource(info, description) {
  const key = JSON.stringify([info, description]);
  if (key === shownSource) return;
  shownSource = key;
  const banner = $("demo-banner");
  banner.hidden = !(info && info.demo);
  if (banner.hidden) return;
  const what = info.kind === "image folder" ? "recorded images" : "a recorded video";
  text($("demo-title"), info.bundled_demo ? "Demo clip, not a live camera" : `Playing ${what}, not a live camera`);
  const parts = [];
  if (info.fallback) parts.push(`The configured source did not open (${info.fallback}), so the fallback plays.`);
  parts.push(info.bundled_demo
    ? "The bundled demo clip (media/demo.mp4) is playing: the faces, expressions and charts here are the clip's, " +
      "not those of anyone in front of the booth."
    : `Source: ${description}. The faces, expressions and charts here are the recording's.`);
  parts.push("For the camera, set source.spec in the config (or FER_EDGE_SOURCE), e.g. /dev/video0 or picamera2.");
  text($("demo-text"), parts.join(" "));
}

function render(s) {
  renderHealth(s.health);
  renderSource(s.source_info, s.source);
  text($("uptime"), `${Math.floor(s.uptime_s / 60)} min ${Math.floor(s.uptime_s % 60)} s`);
  text($("fps"), s.fps.toFixed(1));
  text($("duty"), s.detector_duty == null ? "–" : `${Math.round(s.detector_duty * 100)} %`);
  text($("source"), s.source);
  renderFaces(s.latest);
  const lat = $("latency").querySelector("tbody");
  lat.replaceChildren(...Object.entries(s.latency_ms).map(([k, v]) => row([k, v.p50_ms.toFixed(2), v.p95_ms.toFixed(2)])));
  const counters = $("counters").querySelector("tbody");
  counters.replaceChildren(...Object.entries(s.counters).map(([k, v]) => row([k.replace("_", " "), v])));
  $("models").replaceChildren(...s.models.map((m) => item(`${m.task}: ${m.name} v${m.version} (${m.precision})`)));
}

function connect() {
  const source = new EventSource("/api/stream");
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.onerror = () => {
    text($("health"), "reconnecting…");
    $("health").className = "badge";
    shownHealth = ""; // whatever health says next is drawn again
  };
}

// ---- history charts ---------------------------------------------------------------------------------------------

let history = null;
let rangeMinutes = 15;

function svg(tag, attributes, content) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (content !== undefined) e.textContent = content;
  return e;
}

function niceCeil(value) { // 1, 2 or 5 times a power of ten, at least `value`
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= value - 1e-9);
}

function lengthLabel(seconds) {
  return seconds < 60 ? `${seconds} s` : `${+(seconds / 60).toFixed(1)} min`;
}

function minutesLabel(seconds) {
  return seconds === 0 ? "now" : `-${lengthLabel(seconds)}`;
}

// The chart's frame: axes, grid and labels in the SVG's own pixel size (so text stays readable at any width);
// returns x(seconds ago) and y(value).
function frame(chart, spanS, yMax, format) {
  const w = Math.max(chart.clientWidth, 200);
  const h = Math.max(chart.clientHeight, 100);
  chart.setAttribute("viewBox", `0 0 ${w} ${h}`);
  chart.replaceChildren();
  const m = { left: 46, right: 10, top: 8, bottom: 20 };
  const x = (ago) => m.left + (1 - Math.min(ago, spanS) / spanS) * (w - m.left - m.right); // clipped at the left
  const y = (v) => h - m.bottom - (Math.min(v, yMax) / yMax) * (h - m.top - m.bottom);
  for (const v of [0, yMax / 2, yMax]) {
    chart.appendChild(svg("line", { x1: m.left, x2: w - m.right, y1: y(v), y2: y(v), class: "grid" }));
    chart.appendChild(svg("text", { x: m.left - 4, y: y(v) + 4, class: "axis-label", "text-anchor": "end" },
      format(v)));
  }
  const step = [60, 120, 300, 600, 900].find((s) => spanS / s <= 6) || 1200;
  for (let ago = 0; ago <= spanS + 1e-9; ago += Math.min(step, spanS)) {
    chart.appendChild(svg("text", { x: x(ago), y: h - 5, class: "axis-label",
      "text-anchor": ago === 0 ? "end" : ago >= spanS ? "start" : "middle" }, minutesLabel(Math.round(ago))));
  }
  return { x, y };
}

// Each point covers [its start, its start + interval): the x of both ends, in seconds ago.
function span(point) {
  const end = point.ago_s - history.interval_s;
  return [end + point.seconds, end];
}

// A step line through the points where value(p) is a number, broken where it is null.
function stepPath(points, value, x, y) {
  let d = "";
  let open = false;
  for (const p of points) {
    const v = value(p);
    if (v === null || v === undefined) { open = false; continue; }
    const [from, to] = span(p);
    d += `${open ? "L" : "M"}${x(from).toFixed(1)},${y(v).toFixed(1)}L${x(to).toFixed(1)},${y(v).toFixed(1)}`;
    open = true;
  }
  return d;
}

function drawMix(points, spanS) {
  const chart = $("chart-mix");
  const { x, y } = frame(chart, spanS, 1, (v) => `${Math.round(v * 100)} %`);
  const labels = history.labels;
  // runs of consecutive points with faces: one filled band per expression and run, stacked in label order
  const runs = [];
  let run = [];
  for (const p of points) {
    if (p.shares) { run.push(p); } else if (run.length) { runs.push(run); run = []; }
  }
  if (run.length) runs.push(run);
  for (const r of runs) {
    const below = r.map(() => 0);
    for (const name of labels) {
      const above = r.map((p, i) => below[i] + p.shares[name]);
      let d = "";
      r.forEach((p, i) => {
        const [from, to] = span(p);
        d += `${i ? "L" : "M"}${x(from).toFixed(1)},${y(above[i]).toFixed(1)}L${x(to).toFixed(1)},${y(above[i]).toFixed(1)}`;
      });
      for (let i = r.length - 1; i >= 0; i--) {
        const [from, to] = span(r[i]);
        d += `L${x(to).toFixed(1)},${y(below[i]).toFixed(1)}L${x(from).toFixed(1)},${y(below[i]).toFixed(1)}`;
      }
      const band = svg("path", { d: `${d}Z`, class: `band e-${name}` });
      band.appendChild(svg("title", {}, name));
      chart.appendChild(band);
      above.forEach((v, i) => { below[i] = v; });
    }
  }
  const noFace = stepPath(points, (p) => p.no_face, x, y);
  if (noFace) chart.appendChild(svg("path", { d: noFace, class: "series noface" }));
  chart.dataset.points = points.filter((p) => p.shares).length;
  $("mix-legend").replaceChildren(...[...labels, "noface"].map((name) => {
    const entry = document.createElement("span");
    entry.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = `swatch e-${name}`;
    entry.append(swatch, name === "noface" ? "no face" : name);
    return entry;
  }));
}

function drawFps(points, spanS) {
  const chart = $("chart-fps");
  const top = niceCeil(Math.max(5, ...points.map((p) => p.fps)) * 1.1);
  const { x, y } = frame(chart, spanS, top, (v) => `${+v.toFixed(1)}`);
  chart.appendChild(svg("path", { d: stepPath(points, (p) => p.fps, x, y), class: "series fps" }));
  chart.dataset.points = points.length;
  const last = points[points.length - 1];
  text($("fps-latest"), last ? `latest: ${last.fps.toFixed(1)} fps over ${Math.round(last.seconds)} s` : "");
}

function drawLatency(points, spanS) {
  const chart = $("chart-latency");
  const timed = points.filter((p) => p.latency_ms);
  const top = niceCeil(Math.max(1, ...timed.map((p) => p.latency_ms.p95)) * 1.1);
  const { x, y } = frame(chart, spanS, top, (v) => `${+v.toFixed(1)}`);
  for (const name of ["p95", "p50"]) {
    chart.appendChild(svg("path", { d: stepPath(points, (p) => p.latency_ms && p.latency_ms[name], x, y),
      class: `series ${name}` }));
  }
  chart.dataset.points = timed.length;
  const last = timed[timed.length - 1];
  text($("latency-latest"), last ? `latest: p50 ${last.latency_ms.p50.toFixed(1)} ms, ` +
    `p95 ${last.latency_ms.p95.toFixed(1)} ms` : "");
}

function renderHistory() {
  if (!history) return;
  const spanS = Math.min(rangeMinutes * 60, history.window_s);
  const points = history.points.filter((p) => p.ago_s - history.interval_s < spanS);
  let covered = 0; // a longer range than the window shows nothing more: its button is left out
  for (const button of document.querySelectorAll(".range button")) {
    const seconds = Math.min(Number(button.dataset.minutes) * 60, history.window_s);
    button.hidden = seconds <= covered;
    button.setAttribute("aria-pressed", String(!button.hidden && seconds === spanS));
    covered = Math.max(covered, seconds);
  }
  text($("history-span"), `· last ${lengthLabel(spanS)}, a point every ${history.interval_s} s`);
  $("history-note").hidden = history.points.length > 0;
  text($("history-note"), `Collecting: the first point comes once a ${history.interval_s} s interval is complete.`);
  drawMix(points, spanS);
  drawFps(points, spanS);
  drawLatency(points, spanS);
}

async function refreshHistory() {
  try {
    const response = await fetch("/api/history", { headers: { Accept: "application/json" } });
    if (response.status === 401) { loginAgain(); return; }
    if (response.ok) {
      history = await response.json();
      renderHistory();
    }
  } catch (e) {
    // network hiccup: the next refresh tries again
  } finally {
    setTimeout(refreshHistory, Math.max(2, history ? history.interval_s : 5) * 1000); // a new point per interval
  }
}

for (const button of document.querySelectorAll(".range button")) {
  button.addEventListener("click", () => { rangeMinutes = Number(button.dataset.minutes); renderHistory(); });
}
let resizing = 0;
window.addEventListener("resize", () => {
  cancelAnimationFrame(resizing);
  resizing = requestAnimationFrame(renderHistory);
});

// ---- sessions: each row opens its summary on the kiosk page --------------------------------------------------------

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function sessionRow(s) {
  const started = new Date(s.started_at * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  const tr = row([s.alias || "anonymous", s.status, started,
    duration(s.duration_s), ""]);
  const link = document.createElement("a");
  link.href = `/kiosk?session=${encodeURIComponent(s.id)}`;
  link.textContent = s.status === "recording" ? "recording…" : "open summary";
  tr.lastChild.appendChild(link);
  tr.className = "link";
  tr.dataset.session = s.id;
  tr.addEventListener("click", (e) => { if (!e.target.closest("a")) window.location.assign(link.href); });
  return tr;
}

// Sessions change rarely and are not part of /api/status: polled, not streamed.
async function refreshSessions() {
  try {
    const response = await fetch("/api/sessions?limit=10", { headers: { Accept: "application/json" } });
    if (response.status === 401) { loginAgain(); return; }
    if (!response.ok) return; // e.g. session storage failing: keep the last list shown
    const sessions = await response.json();
    $("sessions").querySelector("tbody").replaceChildren(...sessions.map(sessionRow));
    $("no-sessions").hidden = sessions.length > 0;
  } catch (e) {
    // network hiccup: the next refresh tries again
  }
}

// ---- monitoring: figures change once a second at most, polled --------------------------------------------------

const MONITORING_GROUPS = { quality: "Input quality", predictions: "Predictions vs training", health: "Health" };

function lastFor(seconds) {
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

function figure(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "share") return `${Math.round(value * 100)} %`;
  return `${+value.toPrecision(3)}${unit ? ` ${unit}` : ""}`;
}

function renderMonitoring(m) {
  const badge = $("monitoring-state");
  badge.className = `badge ${m.state}`;
  text(badge, m.state);
  $("monitoring-reasons").replaceChildren(...m.reasons.map(item));
  const rows = [];
  for (const [group, title] of Object.entries(MONITORING_GROUPS)) {
    const head = document.createElement("tr");
    const th = document.createElement("th"); th.colSpan = 4;
    th.textContent = `${title} · last ${lastFor(m.windows_s[group === "predictions" ? "drift" : group])}`;
    head.appendChild(th);
    rows.push(head);
    for (const [name, f] of Object.entries(m.metrics).filter(([, f]) => f.group === group)) {
      const waiting = f.samples === undefined ? "–" : `– (${f.samples} of ${f.needs} samples)`;
      const tr = row([f.label, f.value === null ? waiting : figure(f.value, f.unit),
        figure(f.reference ?? null, f.unit), f.state]);
      tr.dataset.metric = name;
      tr.lastChild.className = `state ${f.state}`;
      rows.push(tr);
    }
  }
  $("monitoring").querySelector("tbody").replaceChildren(...rows);
  text($("monitoring-reference"), m.reference.error ? `No training reference: ${m.reference.error}`
    : `Training reference: ${m.reference.file} (${m.reference.model}).`);
}

async function refreshMonitoring() {
  try {
    const response = await fetch("/api/monitoring", { headers: { Accept: "application/json" } });
    if (response.ok) renderMonitoring(await response.json());
  } catch (e) {
    // network hiccup: the next refresh tries again
  }
}

// the preview exists only when the operator enabled it; refresh it once a second
const preview = document.getElementById("preview");
if (preview) {
  setInterval(() => { preview.src = `/api/preview.jpg?t=${Date.now()}`; }, 1000);
}

connect();
refreshHealth();
setInterval(refreshHealth, 2000);
refreshHistory();
refreshSessions();
setInterval(refreshSessions, 10000);
refreshMonitoring();
setInterval(refreshMonitoring, 2000);
