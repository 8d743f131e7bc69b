// Kiosk for interview practice:
//   welcome -> consent -> choose questions -> per question: prepare (countdown, not recorded) -> answer
//   (recorded, timed) -> summary (code, chart, tips, print, picture) -> welcome; or welcome -> code -> summary.
// Plain DOM, no libraries: the page is served under CSP default-src 'self' and must work offline.
"use strict";

const $ = (id) => document.getElementById(id);
const EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const SVG_NS = "http://www.w3.org/2000/svg";
const SCREENS = ["welcome", "consent", "setup", "recording", "summary", "deleted", "lookup"];
// The booth's question banks and timers (sessions.* in the config), rendered into the page by the server.
const SETUP = JSON.parse($("kiosk-setup").textContent);
// After "Done", the welcome screen offers the summary back for this long: the candidate may still be at the
// booth, the next one should not find it. The code works for the whole retention period.
const BACK_TO_SUMMARY_MS = 3 * 60 * 1000;
const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"; // edge/sessions/store.py's
const KIND_LABELS = { strength: "Went well", suggestion: "To try", note: "Note" };

let session = null; // {id, questions} of the session shown (recording or summary)
let index = 0; // question on screen (0-based)
let phase = null; // "prepare" or "answer" while recording
let step = 0; // bumped by every move between questions: a late timer or tap of an older step does nothing
let stream = null; // EventSource, open only while recording: each one holds a server thread
let ticker = null; // the countdown's interval
let bank = 0; // chosen question bank (index into SETUP.banks), or "own"
let lastSummary = null; // {id, until}: the summary "Back to my summary" reopens
let current = null; // the summary shown: its detail from the API

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
  for (const id of SCREENS) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen; // for the layout (and the tests)
  window.scrollTo(0, 0);
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

// ---- welcome, consent, choosing the questions -------------------------------------------------------

function welcome() {
  closeStream();
  stopTicker();
  session = null;
  current = null;
  showError("");
  const back = lastSummary && Date.now() < lastSummary.until;
  $("back-to-summary").hidden = !back;
  if (back) setTimeout(() => { $("back-to-summary").hidden = !(lastSummary && Date.now() < lastSummary.until); },
    lastSummary.until - Date.now() + 100);
  if (window.location.search) history.replaceState(null, "", window.location.pathname); // a reload starts afresh
  show("welcome");
}

function consent() {
  showError("");
  show("consent");
}

function choose() {
  // a new candidate: the previous one's summary is no longer offered on the welcome screen
  lastSummary = null;
  $("alias").value = "";
  $("questions").value = "";
  renderBanks();
  show("setup");
}

function renderBanks() {
  const buttons = SETUP.banks.map((b, i) => {
    const button = el("button", "bank");
    button.type = "button";
    button.dataset.bank = String(i);
    button.append(el("span", "bank-name", b.name), el("span", "bank-count", `${b.questions.length} questions`));
    return button;
  });
  if (SETUP.own_questions) {
    const own = el("button", "bank");
    own.type = "button";
    own.dataset.bank = "own";
    own.append(el("span", "bank-name", "My own"), el("span", "bank-count", "type them in"));
    buttons.push(own);
  }
  $("banks").replaceChildren(...buttons);
  selectBank(SETUP.banks.length ? 0 : "own");
}

function selectBank(choice) {
  bank = choice;
  for (const b of $("banks").children) b.setAttribute("aria-pressed", String(b.dataset.bank === String(choice)));
  $("own").hidden = choice !== "own";
  if (choice === "own") $("questions").focus();
}

function chosenQuestions() {
  if (bank !== "own") return SETUP.banks[bank].questions;
  return $("questions").value.split("\n").map((q) => q.trim()).filter((q) => q);
}

async function start(event) {
  event.preventDefault();
  showError("");
  const questions = chosenQuestions();
  if (!questions.length) { showError("Type at least one question, one per line, or choose a set."); return; }
  if (questions.length > SETUP.max_questions || questions.some((q) => q.length > SETUP.max_question_chars)) {
    showError(`At most ${SETUP.max_questions} questions of ${SETUP.max_question_chars} characters each, please.`);
    return;
  }
  const alias = $("alias").value.trim();
  $("start").disabled = true;
  let detail = null;
  try {
    // prepare: nothing is recorded until the first answer begins (after its countdown)
    detail = await api("POST", "/api/sessions", { alias: alias || null, questions, prepare: true });
    session = { id: detail.id, questions: detail.questions };
    buildMeter();
    openStream();
    await beginQuestion(0);
  } catch (e) {
    if (detail) { // started, but the first question could not be marked: leave nothing behind
      closeStream();
      await api("DELETE", `/api/sessions/${detail.id}`).catch(() => {});
      show("setup");
    }
    showError(e.status === 409 ? "Another practice session is still running on this booth. Please wait a moment."
      : e.status === 503 && e.staff ? `${e.message} (For staff: ${e.staff}.)` : `Could not start: ${e.message}`);
  } finally {
    $("start").disabled = false;
  }
}

// ---- a question: preparation, then answer ------------------------------------------------------------

function stopTicker() {
  clearInterval(ticker);
  ticker = null;
}

const clock = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;

// Counts `total` seconds down from `elapsed` (0 for a count-up without end), then calls done().
function runTimer(total, elapsed, done) {
  stopTicker();
  const began = performance.now() - elapsed * 1000;
  const mine = step;
  const tick = () => {
    if (mine !== step) { stopTicker(); return; }
    const gone = (performance.now() - began) / 1000;
    if (total > 0) {
      const left = Math.max(0, Math.ceil(total - gone));
      renderTimer(left, Math.min(1, gone / total));
      if (gone >= total) { stopTicker(); done(); }
    } else {
      renderTimer(Math.floor(gone), null);
    }
  };
  tick();
  ticker = setInterval(tick, 200);
}

function renderTimer(seconds, progress) {
  $("timer").textContent = phase === "prepare" ? String(seconds) : clock(seconds);
  $("timer-text").textContent = phase === "prepare" ? (seconds === 1 ? "second to get ready" : "seconds to get ready")
    : progress === null ? "answering" : "left for this answer";
  $("timer-box").dataset.progress = progress === null ? "none" : "some";
  $("timer-fill").style.width = `${(progress || 0) * 100}%`; // CSSOM, not a style attribute: allowed by the CSP
}

function renderQuestion() {
  const total = session.questions.length;
  const last = index >= total - 1;
  $("q-number").textContent = index + 1;
  $("q-total").textContent = total;
  $("question").textContent = session.questions[index];
  $("phase").dataset.phase = phase;
  $("phase").textContent = phase === "prepare" ? "Get ready · not recording yet" : "● Recording";
  $("ready").hidden = phase !== "prepare";
  $("next").hidden = phase !== "answer" || last; // on the last question the only way on is Finish
  $("stop").textContent = phase === "answer" && last ? "Finish" : "Stop";
  $("stop").className = `big ${phase === "answer" && last ? "primary" : "danger"}`;
  show("recording");
}

// Shows question `i`: its countdown first when the booth has one (sessions.prepare_s), else its answer.
async function beginQuestion(i, elapsed = 0) {
  if (!SETUP.prepare_s) { await beginAnswer(i); return; }
  const mine = ++step;
  if (elapsed === 0) await api("POST", `/api/sessions/${session.id}/questions`, { index: i, phase: "prepare" });
  if (mine !== step) return;
  index = i;
  phase = "prepare";
  renderQuestion();
  runTimer(SETUP.prepare_s, elapsed, () => guarded(() => beginAnswer(i)));
}

async function beginAnswer(i, elapsed = 0) {
  const mine = ++step;
  if (elapsed === 0) await api("POST", `/api/sessions/${session.id}/questions`, { index: i });
  if (mine !== step) return;
  index = i;
  phase = "answer";
  renderQuestion();
  runTimer(SETUP.answer_s, elapsed, () => guarded(advance)); // answer_s 0: counts up, no end
}

async function advance() {
  if (index < session.questions.length - 1) await beginQuestion(index + 1);
  else await stop();
}

// One move at a time: buttons are disabled while it runs; an error is shown, the screen stays.
let moving = false;

async function guarded(move) {
  if (moving) return;
  moving = true;
  showError("");
  for (const id of ["ready", "next", "stop"]) $(id).disabled = true;
  try {
    await move();
  } catch (e) {
    showError(`Could not move on: ${e.message}`);
  } finally {
    moving = false;
    for (const id of ["ready", "next", "stop"]) $(id).disabled = false;
  }
}

async function stop() {
  step += 1;
  stopTicker();
  const detail = await api("POST", `/api/sessions/${session.id}/stop`);
  closeStream();
  phase = null;
  openSummary(detail);
}

// ---- the live meter ----------------------------------------------------------------------------------

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
    $(`meter-${name}`).style.width = `${p * 100}%`;
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

// ---- summary -----------------------------------------------------------------------------------------

const SERIES = [...EXPRESSIONS, "uncertain"];
const LIGHT = new Set(["neutral", "surprise"]); // colours light enough for dark text on them

function legend() {
  const items = [...SERIES, "noface"].map((name) => {
    const item = el("span", "legend-item");
    item.append(el("span", `swatch e-${name}`), name === "noface" ? "no face" : name);
    return item;
  });
  $("legend").replaceChildren(...items);
}

// The questions side by side: one bar per question, split by the share of face time most people would
// have read as each expression (and the share the model could not read), largest labelled.
function compareChart(rows) {
  const labelW = 60, barW = 520, rowH = 34, gap = 10, top = 4;
  const height = top + rows.length * (rowH + gap);
  const chart = svg("svg", { viewBox: `0 0 ${labelW + barW} ${height}`, class: "compare-chart", role: "img",
    "aria-label": "Expression shares per question" });
  rows.forEach((row, r) => {
    const y = top + r * (rowH + gap);
    const label = svg("text", { x: 0, y: y + rowH / 2 + 6, class: "row-label" });
    label.textContent = row.label;
    chart.appendChild(label);
    chart.appendChild(svg("rect", { x: labelW, y, width: barW, height: rowH, class: "e-noface" }));
    let x = labelW;
    for (const name of SERIES) {
      const share = row.shares[name] || 0;
      if (share <= 0) continue;
      const w = share * barW;
      const part = svg("rect", { x, y, width: w, height: rowH, class: `e-${name}`, "data-series": name });
      const title = svg("title", {});
      title.textContent = `${row.label}: ${name} ${pct(share)}`;
      part.appendChild(title);
      chart.appendChild(part);
      if (share >= 0.12) {
        const text = svg("text", { x: x + w / 2, y: y + rowH / 2 + 6, "text-anchor": "middle",
          class: `bar-label${LIGHT.has(name) ? " on-light" : ""}` });
        text.textContent = `${name} ${pct(share)}`;
        chart.appendChild(text);
      }
      x += w;
    }
  });
  return chart;
}

function compareRows(detail) {
  const segments = detail.summary.segments.filter((s) => s.duration_s > 0);
  return segments.map((s) => ({ label: `Q${s.index + 1}`, shares: s.shares, question: s.question }));
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
  for (const name of [...SERIES].sort((a, b) => shares[b] - shares[a])) {
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

// A tip: what went well, what to try, or a note about the measurement (its "kind"; older rules have none).
function tipsList(tips) {
  const list = el("ul", "tips");
  for (const tip of tips) {
    const item = el("li");
    item.dataset.rule = tip.rule; // traceable to the rule that produced it
    const kind = KIND_LABELS[tip.kind];
    if (kind) {
      item.dataset.kind = tip.kind;
      item.appendChild(el("span", `kind kind-${tip.kind}`, kind));
    }
    if (typeof tip.figure === "number") item.appendChild(el("span", "figure", pct(tip.figure)));
    item.appendChild(el("span", "tip-text", tip.text));
    list.appendChild(item);
  }
  return list;
}

function part(title, question, data, tips) {
  const article = el("article", "part");
  article.appendChild(el("h3", "", title));
  if (question) article.appendChild(el("p", "part-question", question));
  article.appendChild(el("h4", "", "Tips"));
  article.appendChild(tips.length ? tipsList(tips)
    : el("p", "muted", "No tip for this part: it was too short or there was nothing to point out."));
  article.appendChild(el("p", "muted",
    `${data.duration_s} s recorded · face in view ${pct(data.face_present)} of the time`));
  article.appendChild(timelineChart(data.timeline));
  article.appendChild(el("h4", "", "Share of the time most people would have read your face as…"));
  article.appendChild(sharesList(data.shares));
  return article;
}

// The QR code's text: the aggregated shares per question, nothing else (no name, no code, no image), so a
// phone's camera app shows it without any network. qr.js encodes it.
function qrText(detail) {
  const rows = compareRows(detail);
  const lines = [`Interview practice ${new Date(detail.started_at * 1000).toISOString().slice(0, 10)}, `
    + `${detail.summary.overall.duration_s} s recorded.`, "Share of face time most people would read as:"];
  const parts = rows.length ? rows : [{ label: "All", shares: detail.summary.overall.shares }];
  for (const row of parts) {
    const top = SERIES.filter((n) => row.shares[n] >= 0.05).sort((a, b) => row.shares[b] - row.shares[a]);
    lines.push(`${row.label}: ${top.map((n) => `${n} ${Math.round(row.shares[n] * 100)}%`).join(", ") || "no reading"}`);
  }
  lines.push("A camera model's estimate, not a score.");
  return lines.join("\n");
}

function renderQr(detail) {
  let code = null;
  try {
    if (detail.summary.overall.duration_s > 0) code = qrSvg(qrMatrix(qrText(detail)), "QR code of the shares per question");
  } catch (e) { // too many questions for a QR code: the rest of the summary still stands
    code = null;
  }
  if (code) { // whole screen pixels per module: a blurred module edge is what makes phones (and tests) miss it
    const modules = Number(code.getAttribute("viewBox").split(" ")[2]);
    const unit = window.innerHeight < 560 ? 3 : 4;
    code.style.width = code.style.height = `${modules * unit}px`;
  }
  $("qr-box").hidden = code === null;
  $("qr").replaceChildren(...(code ? [code] : []));
}

const formatCode = (code) => `${code.slice(0, 4)}-${code.slice(4)}`;
const day = (epoch) => new Date(epoch * 1000).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });

function renderSummary(detail) {
  session = { id: detail.id, questions: detail.questions };
  current = detail;
  const started = new Date(detail.started_at * 1000);
  $("summary-title").textContent = detail.alias ? `${detail.alias}'s practice session` : "Your practice session";
  $("summary-meta").textContent = `${started.toLocaleString()} · ${Math.round(detail.duration_s)} s`;
  $("code-box").hidden = !detail.code;
  if (detail.code) {
    $("code").textContent = formatCode(detail.code);
    $("kept").textContent = detail.kept_until
      ? `Type it on the start screen to see this summary again until ${day(detail.kept_until)}.`
      : "Type it on the start screen to see this summary again.";
  }
  const missing = detail.summary.missing_s || 0;
  const warnings = [];
  if (detail.status === "recording") warnings.push("This session is still being recorded: the figures cover it so far.");
  if (detail.recording_error) warnings.push(`Part of the session was not recorded: ${detail.recording_error}`);
  const answered = detail.summary.segments.length > 0 || !detail.questions.length;
  if (detail.summary.overall.duration_s === 0 && !answered) {
    warnings.push("Nothing was recorded: the session stopped before the first answer began.");
  } else if (detail.summary.overall.duration_s === 0) {
    warnings.push("The camera gave no picture during this session, so there is nothing to show. Please ask a member of staff.");
  } else if (missing >= 3) {
    warnings.push(`The camera gave no picture for ${missing} s of this session: those seconds are missing from these figures.`);
  }
  $("summary-warning").hidden = warnings.length === 0;
  $("summary-warning").textContent = warnings.join(" ");
  const rows = compareRows(detail);
  $("compare").replaceChildren(...(rows.length ? [el("h3", "", rows.length > 1 ? "Your questions side by side"
    : "Your answer at a glance"), compareChart(rows)] : []));
  legend();
  renderQr(detail);
  const general = detail.advice.filter((t) => t.segment === null || t.segment === undefined);
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

function openSummary(detail) {
  showError("");
  renderSummary(detail);
  show("summary");
}

function done() {
  if (current) lastSummary = { id: current.id, until: Date.now() + BACK_TO_SUMMARY_MS };
  welcome();
}

async function backToSummary() {
  if (!lastSummary) return;
  try {
    openSummary(await api("GET", `/api/sessions/${lastSummary.id}`));
  } catch (e) {
    lastSummary = null;
    $("back-to-summary").hidden = true;
    showError(e.status === 404 ? "That summary is no longer on this booth." : `Could not open it: ${e.message}`);
  }
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
    current = null;
    lastSummary = null;
    $("deleted-text").textContent = "Nothing of it remains on this device, and its code no longer works.";
    show("deleted");
  }
}

// ---- the summary as a picture (PNG), drawn on a canvas: what the screen shows, on one card --------------

function colourOf(name) {
  const probe = el("span", `e-${name}`);
  probe.hidden = true;
  document.body.appendChild(probe);
  const colour = getComputedStyle(probe).backgroundColor;
  probe.remove();
  return colour;
}

function wrap(ctx, text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > width && line) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

// Lays the card out twice: once to measure its height, once to draw.
function drawCard(detail, ctx, W) {
  const pad = 48, inner = W - 2 * pad;
  const colours = Object.fromEntries([...SERIES, "noface"].map((n) => [n, colourOf(n)]));
  let y = pad;
  const text = (str, font, colour = "#1d2330", x = pad, lineH = 0, maxW = inner) => {
    ctx.font = font;
    ctx.fillStyle = colour;
    const lines = wrap(ctx, str, maxW);
    const h = lineH || parseInt(font.match(/(\d+)px/)[1], 10) * 1.35;
    for (const l of lines) { y += h; ctx.fillText(l, x, y - h * 0.25); }
    return lines.length;
  };
  ctx.textBaseline = "alphabetic";
  text(detail.alias ? `${detail.alias}'s interview practice` : "Interview practice", "bold 40px system-ui, sans-serif");
  text(`${new Date(detail.started_at * 1000).toLocaleString()} · ${Math.round(detail.duration_s)} s · `
    + `${detail.summary.segments.length} question${detail.summary.segments.length === 1 ? "" : "s"}`,
  "24px system-ui, sans-serif", "#555");
  if (detail.code) {
    y += 10;
    text(`Code ${formatCode(detail.code)}${detail.kept_until ? ` · kept on the booth until ${day(detail.kept_until)}` : ""}`,
      "bold 26px system-ui, sans-serif", "#2b6cb0");
  }
  const rows = compareRows(detail);
  if (rows.length) {
    y += 24;
    text("Share of the time most people would have read your face as…", "bold 26px system-ui, sans-serif");
    y += 8;
    const labelW = 70, barW = inner - labelW, barH = 40;
    for (const row of rows) {
      ctx.font = "bold 24px system-ui, sans-serif";
      ctx.fillStyle = "#1d2330";
      ctx.fillText(row.label, pad, y + barH * 0.7);
      ctx.fillStyle = colours.noface;
      ctx.fillRect(pad + labelW, y, barW, barH);
      let x = pad + labelW;
      for (const name of SERIES) {
        const w = (row.shares[name] || 0) * barW;
        if (w <= 0) continue;
        ctx.fillStyle = colours[name];
        ctx.fillRect(x, y, w, barH);
        if (row.shares[name] >= 0.12) {
          ctx.font = "20px system-ui, sans-serif";
          ctx.fillStyle = LIGHT.has(name) ? "#1d2330" : "#fff";
          ctx.textAlign = "center";
          ctx.fillText(`${name} ${pct(row.shares[name])}`, x + w / 2, y + barH * 0.66);
          ctx.textAlign = "left";
        }
        x += w;
      }
      y += barH + 12;
    }
    // legend
    let x = pad;
    ctx.font = "20px system-ui, sans-serif";
    for (const name of SERIES) {
      const w = 26 + ctx.measureText(name).width + 22;
      if (x + w > W - pad) { x = pad; y += 30; }
      ctx.fillStyle = colours[name];
      ctx.fillRect(x, y + 4, 18, 18);
      ctx.fillStyle = "#1d2330";
      ctx.fillText(name, x + 26, y + 20);
      x += w;
    }
    y += 34;
  }
  const groups = [[null, "Across the session"], ...detail.summary.segments.map((s) => [s.index, `Question ${s.index + 1}: ${s.question}`])];
  for (const [segment, title] of groups) {
    const tips = detail.advice.filter((t) => (t.segment ?? null) === segment);
    if (!tips.length) continue;
    y += 16;
    text(title, "bold 24px system-ui, sans-serif");
    for (const tip of tips) {
      const kind = KIND_LABELS[tip.kind];
      text(`${kind ? `${kind}: ` : "• "}${tip.text}`, "22px system-ui, sans-serif", "#1d2330", pad + 16, 30, inner - 16);
    }
  }
  y += 20;
  text(detail.disclaimer, "18px system-ui, sans-serif", "#555", pad, 25);
  return y + pad;
}

async function savePicture() {
  const W = 1200;
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = drawCard(current, canvas.getContext("2d"), W); // measure (the canvas is cleared on resize)
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, canvas.height);
  drawCard(current, ctx, W);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `practice-summary-${new Date(current.started_at * 1000).toISOString().slice(0, 10)}.png`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ---- a summary again, by its code ----------------------------------------------------------------------

function buildKeypad() {
  const keys = [...CODE_ALPHABET].map((c) => {
    const key = el("button", "key", c);
    key.type = "button";
    key.dataset.key = c;
    return key;
  });
  const back = el("button", "key key-back", "⌫");
  back.type = "button";
  back.dataset.key = "back";
  back.setAttribute("aria-label", "Delete the last character");
  $("keypad").replaceChildren(...keys, back);
}

function typeKey(key) {
  const raw = $("code-input").value.toUpperCase().replace(/[^0-9A-Z]/g, "");
  const code = key === "back" ? raw.slice(0, -1) : (raw + key).slice(0, 8);
  $("code-input").value = code.length > 4 ? formatCode(code) : code;
}

function openLookup() {
  showError("");
  $("code-input").value = "";
  show("lookup");
}

async function lookup(event) {
  event.preventDefault();
  showError("");
  const code = $("code-input").value;
  if (!code.trim()) { showError("Type the code from your summary first."); return; }
  $("lookup-go").disabled = true;
  try {
    openSummary(await api("POST", "/api/sessions/lookup", { code }));
  } catch (e) {
    showError(e.status === 404 ? "No summary has this code. Check it and try again – it may also have been deleted."
      : e.status === 429 ? `Too many codes tried. ${e.message.replace(/^too many wrong codes from this device: /, "Please ")}.`
        : e.message);
  } finally {
    $("lookup-go").disabled = false;
  }
}

// ---- start-up: a running session, a session asked for by the URL, or the welcome screen ----------------

async function resume() {
  try {
    const wanted = new URLSearchParams(window.location.search).get("session");
    if (wanted) { // the dashboard links each session here
      try {
        openSummary(await api("GET", `/api/sessions/${encodeURIComponent(wanted)}`));
      } catch (e) {
        welcome();
        showError(e.status === 404 ? "That session is no longer on this booth (deleted, or past its retention period)."
          : `Could not open that session: ${e.message}`);
      }
      return;
    }
    // A reload mid-session (or a tap on the browser's back button) picks the running session up again.
    const live = await api("GET", "/api/sessions/live");
    if (!live.recording) return;
    const detail = await api("GET", `/api/sessions/${live.session_id}`);
    if (!detail.questions.length) return; // started by another client without questions: not the kiosk's
    session = { id: detail.id, questions: detail.questions };
    buildMeter();
    openStream();
    const i = Math.min(live.question_index || 0, detail.questions.length - 1);
    const elapsed = live.phase_elapsed_s || 0;
    if (live.phase === "prepare") await beginQuestion(i, Math.min(elapsed, SETUP.prepare_s - 0.1));
    else if (live.phase === "answer") await beginAnswer(i, SETUP.answer_s ? Math.min(elapsed, SETUP.answer_s - 0.1) : elapsed);
    else await beginQuestion(i);
  } catch (e) {
    showError(`Could not reach the booth's service: ${e.message}`);
  }
}

$("begin").addEventListener("click", consent);
$("find").addEventListener("click", openLookup);
$("back-to-summary").addEventListener("click", backToSummary);
$("agree").addEventListener("click", choose);
$("decline").addEventListener("click", welcome);
$("banks").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-bank]");
  if (button) selectBank(button.dataset.bank === "own" ? "own" : Number(button.dataset.bank));
});
$("setup-form").addEventListener("submit", start);
$("setup-back").addEventListener("click", welcome);
$("ready").addEventListener("click", () => guarded(() => beginAnswer(index)));
$("next").addEventListener("click", () => guarded(advance));
$("stop").addEventListener("click", () => guarded(stop));
$("print").addEventListener("click", () => window.print());
$("save-png").addEventListener("click", () => savePicture().catch((e) => showError(`Could not make the picture: ${e.message}`)));
$("delete").addEventListener("click", erase);
$("done").addEventListener("click", done);
$("restart").addEventListener("click", welcome);
$("keypad").addEventListener("click", (e) => {
  const key = e.target.closest("button[data-key]");
  if (key) typeKey(key.dataset.key);
});
$("lookup-form").addEventListener("submit", lookup);
$("lookup-back").addEventListener("click", welcome);
buildKeypad();
show("welcome");
resume();
