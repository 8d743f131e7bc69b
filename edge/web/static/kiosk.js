// Kiosk for interview practice: setup -> recording (live meter) -> summary -> (deleted).
// Plain DOM, no libraries: the page is served under CSP default-src 'self' and must work offline.
"use strict";

const $ = (id) => document.getElementById(id);
const EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const SVG_NS = "http://www.w3.org/2000/svg";

let session = null; // {id, questions} of the session this page is recording
let index = 0; // question being answered (0-based)
let stream = null; // EventSource, open only while recording: each one holds a server thread

const pct = (share) => `${Math.round(share * 100)} %`;

function el(tag, className, textContent) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (textContent !== undefined) e.textContent = textContent;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function show(screen) {
  for (const id of ["setup", "recording", "summary", "deleted"]) $(id).hidden = id !== screen;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

// Every state change carries the page's CSRF value (edge/web/security.py).
const CSRF = document.querySelector('meta[name="csrf-token"]').content;

// JSON in and out; the API answers 415 unless a body is declared application/json.
async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) { // the login expired (or the token changed): log in again, then come back
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.staff = data && data.staff; // what staff should check, beside the candidate's words
    throw error;
  }
  return data;
}

// ---- recording ----------------------------------------------------------------------------------

function questionText(i) {
  // Without a question list the API names them "Question N" itself.
  return session.questions.length ? session.questions[i] : `Question ${i + 1}`;
}

function showQuestion() {
  $("q-number").textContent = index + 1;
  $("q-total").textContent = session.questions.length || "–";
  $("question").textContent = questionText(index);
  // On the last question the only way on is Stop.
  $("next").hidden = session.questions.length > 0 && index >= session.questions.length - 1;
}

function buildMeter() {
  // Built once with a fixed order, then only widths change: bars that jumped around would distract.
  $("meter-bars").replaceChildren(...EXPRESSIONS.map((name) => {
    const row = el("div", "meter-row");
    const track = el("span", "track");
    const fill = el("span", `fill e-${name}`);
    fill.id = `meter-${name}`;
    track.appendChild(fill);
    row.append(el("span", "name", name), track);
    return row;
  }));
}

function renderMeter(status) {
  const latest = status.latest;
  const face = latest ? latest.faces.find((f) => f.id === latest.primary_id) : undefined;
  const label = $("meter-label");
  // data-state lets the page style (and tests find) the three cases without parsing text.
  if (!face) {
    label.dataset.state = "none";
    label.textContent = "No face in view – sit facing the camera whenever you are ready.";
  } else if (face.label === "uncertain") {
    label.dataset.state = "uncertain";
    label.textContent = "The model cannot tell right now – that is fine, just carry on.";
  } else {
    label.dataset.state = "face";
    label.textContent = `Most people would read your face as ${face.label}`;
  }
  $("meter-bars").classList.toggle("dim", !face || face.label === "uncertain");
  for (const name of EXPRESSIONS) {
    const p = face ? face.probabilities[name] || 0 : 0;
    $(`meter-${name}`).style.width = `${p * 100}%`; // CSSOM, not a style attribute: allowed by the CSP
  }
}

function openStream() {
  closeStream();
  stream = new EventSource("/api/stream");
  stream.onmessage = (e) => renderMeter(JSON.parse(e.data));
  // EventSource reconnects by itself; only say so.
  stream.onerror = () => { $("meter-label").dataset.state = "none"; $("meter-label").textContent = "Reconnecting to the camera…"; };
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
}

function startRecording(detail, questionIndex) {
  session = { id: detail.id, questions: detail.questions };
  index = questionIndex;
  buildMeter();
  showQuestion();
  show("recording");
  openStream();
}

async function start(event) {
  event.preventDefault();
  showError("");
  const alias = $("alias").value.trim();
  const questions = $("questions").value.split("\n").map((q) => q.trim()).filter((q) => q);
  $("start").disabled = true;
  try {
    const detail = await api("POST", "/api/sessions", { alias: alias || null, questions });
    await api("POST", `/api/sessions/${detail.id}/questions`, { index: 0 });
    startRecording(detail, 0);
  } catch (e) {
    showError(e.status === 409 ? "Another practice session is still running on this booth. Please wait a moment."
      : e.status === 503 && e.staff ? `${e.message} (For staff: ${e.staff}.)` : `Could not start: ${e.message}`);
  } finally {
    $("start").disabled = false;
  }
}

async function next() {
  showError("");
  $("next").disabled = true;
  try {
    await api("POST", `/api/sessions/${session.id}/questions`, { index: index + 1 });
    index += 1;
    showQuestion();
  } catch (e) {
    showError(`Could not move on: ${e.message}`);
  } finally {
    $("next").disabled = false;
  }
}

async function stop() {
  showError("");
  $("stop").disabled = true;
  try {
    const detail = await api("POST", `/api/sessions/${session.id}/stop`);
    closeStream();
    renderSummary(detail);
    show("summary");
  } catch (e) {
    showError(`Could not stop: ${e.message}`);
  } finally {
    $("stop").disabled = false;
  }
}

// ---- summary --------------------------------------------------------------------------------------

function legend() {
  const items = [...EXPRESSIONS, "uncertain", "noface"].map((name) => {
    const item = el("span", "legend-item");
    item.append(el("span", `swatch e-${name}`), name === "noface" ? "no face" : name);
    return item;
  });
  $("legend").replaceChildren(...items);
}

// One stacked column per second: expression shares of the time the model could read, then the
// uncertain share, then the time without a face, so every column adds up to the whole second.
function timelineChart(timeline) {
  const width = Math.max(timeline.length, 1), height = 100;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
    class: "timeline", role: "img", "shape-rendering": "crispEdges",
    "aria-label": `Expression shares, second by second, over ${timeline.length} s` });
  chart.appendChild(svg("rect", { x: 0, y: 0, width, height, class: "e-noface" }));
  timeline.forEach((second, x) => {
    const column = svg("g", {});
    const title = svg("title", {}); // hover text for the whole column
    title.textContent = `${second.t} s: ${second.dominant || (second.face_present ? "uncertain" : "no face")}`;
    column.appendChild(title);
    const read = second.face_present * (1 - second.uncertain);
    const parts = EXPRESSIONS.map((name) => [name, read * second.shares[name]]);
    parts.push(["uncertain", second.face_present * second.uncertain]);
    let y = height;
    for (const [name, share] of parts) {
      if (share <= 0) continue;
      y -= share * height;
      column.appendChild(svg("rect", { x, y, width: 1, height: share * height, class: `e-${name}` }));
    }
    chart.appendChild(column);
  });
  const figure = el("figure", "chart");
  const caption = el("figcaption", "axis");
  const first = timeline.length ? timeline[0].t : 0;
  caption.append(el("span", "", `${first} s`),
    el("span", "", timeline.length ? `${first + timeline.length} s (from the session's start)` : "no seconds recorded"));
  figure.append(chart, caption);
  return figure;
}

function sharesList(shares) {
  const list = el("ul", "shares");
  for (const name of [...EXPRESSIONS, "uncertain"].sort((a, b) => shares[b] - shares[a])) {
    const item = el("li");
    const track = el("span", "track");
    const fill = el("span", `fill e-${name}`);
    fill.style.width = `${shares[name] * 100}%`;
    track.appendChild(fill);
    item.append(el("span", "name", name), track, el("span", "value", pct(shares[name])));
    list.appendChild(item);
  }
  return list;
}

function tipsList(tips) {
  const list = el("ul", "tips");
  for (const tip of tips) {
    const item = el("li");
    item.dataset.rule = tip.rule; // traceable to the rule that produced it
    item.append(el("span", "figure", pct(tip.figure)), el("span", "", tip.text));
    list.appendChild(item);
  }
  return list;
}

function part(title, question, data, tips) {
  const article = el("article", "part");
  article.appendChild(el("h3", "", title));
  if (question) article.appendChild(el("p", "part-question", question));
  article.appendChild(el("p", "muted",
    `${data.duration_s} s recorded · face in view ${pct(data.face_present)} of the time`));
  article.appendChild(timelineChart(data.timeline));
  article.appendChild(el("h4", "", "Share of the time most people would have read your face as…"));
  article.appendChild(sharesList(data.shares));
  article.appendChild(el("h4", "", "Tips"));
  article.appendChild(tips.length ? tipsList(tips)
    : el("p", "muted", "No tip for this part: it was too short or there was nothing to point out."));
  return article;
}

function renderSummary(detail) {
  session = { id: detail.id, questions: detail.questions };
  const started = new Date(detail.started_at * 1000);
  $("summary-title").textContent = detail.alias ? `${detail.alias}'s practice session` : "Your practice session";
  $("summary-meta").textContent = `${started.toLocaleString()} · ${Math.round(detail.duration_s)} s`;
  const missing = detail.summary.missing_s || 0;
  const warnings = [];
  if (detail.recording_error) warnings.push(`Part of the session was not recorded: ${detail.recording_error}`);
  if (detail.summary.overall.duration_s === 0) {
    warnings.push("The camera gave no picture during this session, so there is nothing to show. Please ask a member of staff.");
  } else if (missing >= 3) {
    warnings.push(`The camera gave no picture for ${missing} s of this session: those seconds are missing from these figures.`);
  }
  $("summary-warning").hidden = warnings.length === 0;
  $("summary-warning").textContent = warnings.join(" ");
  legend();
  const general = detail.advice.filter((t) => t.segment === null);
  $("general-tips").replaceChildren(...(general.length ? [el("h3", "", "Across the session"), tipsList(general)] : []));
  const segments = detail.summary.segments;
  $("parts").replaceChildren(...(segments.length
    ? segments.map((s) => part(`Question ${s.index + 1}`, s.question, s, detail.advice.filter((t) => t.segment === s.index)))
    : [part("Whole session", "", detail.summary.overall, [])]));
  $("disclaimer").textContent = detail.disclaimer;
  $("export-json").href = `/api/sessions/${detail.id}/export?format=json`;
  $("export-csv").href = `/api/sessions/${detail.id}/export?format=csv`;
  resetDelete();
}

// Two taps to delete: a touchscreen makes stray taps easy, and a browser confirm() looks alarming on a kiosk.
let deleteArmed = null;

function resetDelete() {
  clearTimeout(deleteArmed);
  deleteArmed = null;
  $("delete").textContent = "Delete this session";
}

async function erase() {
  if (!deleteArmed) {
    $("delete").textContent = "Tap again to delete for good";
    deleteArmed = setTimeout(resetDelete, 5000);
    return;
  }
  resetDelete();
  showError("");
  try {
    await api("DELETE", `/api/sessions/${session.id}`);
  } catch (e) {
    if (e.status !== 404) { showError(`Could not delete: ${e.message}`); return; }
  }
  // Confirm with the server rather than trusting the 204: the candidate is told only what is true.
  try {
    await api("GET", `/api/sessions/${session.id}`);
    showError("The session still exists; please ask the booth operator.");
  } catch (e) {
    if (e.status !== 404) { showError(`Could not confirm the deletion: ${e.message}`); return; }
    session = null;
    $("deleted-text").textContent = "Nothing of it remains on this device.";
    show("deleted");
  }
}

function restart() {
  session = null;
  showError("");
  $("alias").value = ""; // the next candidate should not find the previous one's name
  show("setup");
}

// A reload mid-session (or a tap on the browser's back button) picks the running session up again.
async function resume() {
  try {
    const live = await api("GET", "/api/sessions/live");
    if (!live.recording) return;
    const detail = await api("GET", `/api/sessions/${live.session_id}`);
    startRecording(detail, live.question_index || 0);
  } catch (e) {
    showError(`Could not reach the booth's service: ${e.message}`);
  }
}

$("setup-form").addEventListener("submit", start);
$("next").addEventListener("click", next);
$("stop").addEventListener("click", stop);
$("print").addEventListener("click", () => window.print());
$("delete").addEventListener("click", erase);
$("again").addEventListener("click", restart);
$("restart").addEventListener("click", restart);
resume();
