// Live dashboard: one server-sent-event stream, every message a full /api/status document.
"use strict";

const $ = (id) => document.getElementById(id);

function text(el, value) { el.textContent = value; }

function row(cells, tag = "td") {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement(tag); td.textContent = c; tr.appendChild(td); }
  return tr;
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

function render(s) {
  const badge = $("health");
  badge.className = `badge ${s.health.status}`;
  text(badge, s.health.status);
  text($("health-reasons"), s.health.reasons.join("; "));
  text($("uptime"), `${Math.floor(s.uptime_s / 60)} min ${Math.floor(s.uptime_s % 60)} s`);
  text($("fps"), s.fps.toFixed(1));
  text($("duty"), s.detector_duty == null ? "–" : `${Math.round(s.detector_duty * 100)} %`);
  text($("source"), s.source);
  renderFaces(s.latest);
  const lat = $("latency").querySelector("tbody");
  lat.replaceChildren(...Object.entries(s.latency_ms).map(([k, v]) => row([k, v.p50_ms.toFixed(2), v.p95_ms.toFixed(2)])));
  const counters = $("counters").querySelector("tbody");
  counters.replaceChildren(...Object.entries(s.counters).map(([k, v]) => row([k.replace("_", " "), v])));
  $("models").replaceChildren(...s.models.map((m) => {
    const li = document.createElement("li");
    li.textContent = `${m.task}: ${m.name} v${m.version} (${m.precision})`;
    return li;
  }));
}

function connect() {
  const source = new EventSource("/api/stream");
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.onerror = () => { text($("health"), "reconnecting…"); $("health").className = "badge"; };
}

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

// Sessions change rarely and are not part of /api/status: polled, not streamed.
async function refreshSessions() {
  try {
    const response = await fetch("/api/sessions?limit=10", { headers: { Accept: "application/json" } });
    if (response.status === 401) { // the login expired (or the token changed)
      window.location.assign("/login?next=/");
      return;
    }
    if (!response.ok) return; // e.g. session storage failing: keep the last list shown
    const sessions = await response.json();
    $("sessions").querySelector("tbody").replaceChildren(...sessions.map((s) => row([
      s.alias || "anonymous", s.status, new Date(s.started_at * 1000).toLocaleString(), duration(s.duration_s)])));
    $("no-sessions").hidden = sessions.length > 0;
  } catch (e) {
    // network hiccup: the next refresh tries again
  }
}

// Monitoring figures change once a second at most: polled, not streamed.
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
  $("monitoring-reasons").replaceChildren(...m.reasons.map((r) => {
    const li = document.createElement("li"); li.textContent = r; return li;
  }));
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
refreshSessions();
setInterval(refreshSessions, 10000);
refreshMonitoring();
setInterval(refreshMonitoring, 2000);
