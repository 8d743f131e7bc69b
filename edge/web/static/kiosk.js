// Kiosk for interview practice: the screens and the flow between them.
//   welcome -> consent -> choose questions -> per question: prepare (countdown, not recorded) -> answer
//   (recorded, timed) -> summary (code, chart, tips, print, picture) -> welcome; or welcome -> code -> summary.
// A screen left untouched goes back to the welcome screen (sessions.summary_idle_s), never while recording.
// Plain DOM, no libraries: the page is served under CSP default-src 'self' and must work offline. kiosk.html
// loads qr.js (the QR encoder), kiosk-common.js (elements, errors, the API) and kiosk-summary.js (drawing
// the summary, its chart and picture) before this file.
"use strict";

const SCREENS = ["welcome", "consent", "setup", "recording", "summary", "deleted", "lookup"];
// The booth's question banks and timers (sessions.* in the config), rendered into the page by the server.
const SETUP = JSON.parse($("kiosk-setup").textContent);
// After "Done", the welcome screen offers the summary back for this long: the candidate may still be at the
// booth, the next one should not find it. The code works for the whole retention period.
const BACK_TO_SUMMARY_MS = 3 * 60 * 1000;
const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"; // edge/sessions/store.py's

let session = null; // {id, questions} of the session shown (recording or summary)
let index = 0; // question on screen (0-based)
let phase = null; // "prepare" or "answer" while recording
let step = 0; // bumped by every move between questions: a late timer or tap of an older step does nothing
let stream = null; // EventSource, open only while recording: each one holds a server thread
let ticker = null; // the countdown's interval
let bank = 0; // chosen question bank (index into SETUP.banks), or "own"
let lastSummary = null; // {id, until}: the summary "Back to my summary" reopens
let current = null; // the summary shown: its detail from the API

function show(screen) {
  for (const id of SCREENS) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen; // for the layout (and the tests)
  window.scrollTo(0, 0);
  watchIdle(screen);
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

// ---- the summary: shown, left, erased ----------------------------------------------------------------

function openSummary(detail) {
  session = { id: detail.id, questions: detail.questions };
  current = detail;
  showError("");
  renderSummary(detail);
  resetDelete();
  show("summary");
}

// Leaves the summary (if one is shown) for the welcome screen, which offers it back until 3 minutes after the
// candidate left it: now, on "Done"; at the last touch, when the screen was left untouched.
function done(leftAt = Date.now()) {
  if (current) lastSummary = { id: current.id, until: leftAt + BACK_TO_SUMMARY_MS };
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

// ---- nobody there: back to the welcome screen ------------------------------------------------------------

// A screen left untouched for sessions.summary_idle_s (0: never) goes back to the welcome screen, so the next
// person finds neither the summary nor someone else's half-made start. A notice with a button to stay shows
// for the last 10 s (the second half of a shorter wait); any touch, click, key or scroll starts the wait
// again. Never while recording: the answer timer moves on by itself there.
const IDLE_SCREENS = new Set(["consent", "setup", "summary", "lookup", "deleted"]);
const IDLE_MS = SETUP.summary_idle_s * 1000;
const IDLE_NOTICE_MS = Math.min(10000, IDLE_MS / 2);
let lastTouch = 0; // performance.now() of the last touch: a clock that the booth's time sync never moves
let idleTicker = null;

function watchIdle(screen) {
  clearInterval(idleTicker);
  idleTicker = null;
  $("idle").hidden = true;
  if (!IDLE_MS || !IDLE_SCREENS.has(screen)) return;
  lastTouch = performance.now();
  idleTicker = setInterval(checkIdle, 250);
}

function stillHere() {
  lastTouch = performance.now();
  $("idle").hidden = true;
}

function checkIdle() {
  const quiet = performance.now() - lastTouch;
  if (quiet >= IDLE_MS) {
    done(Date.now() - quiet); // the summary, as if "Done" was tapped at the last touch; welcome() otherwise
    return;
  }
  $("idle-left").textContent = String(Math.ceil((IDLE_MS - quiet) / 1000));
  $("idle").hidden = IDLE_MS - quiet > IDLE_NOTICE_MS;
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
$("save-png").addEventListener("click", () => savePicture(current).catch((e) => showError(`Could not make the picture: ${e.message}`)));
$("delete").addEventListener("click", erase);
$("done").addEventListener("click", () => done());
$("restart").addEventListener("click", welcome);
$("keypad").addEventListener("click", (e) => {
  const key = e.target.closest("button[data-key]");
  if (key) typeKey(key.dataset.key);
});
$("lookup-form").addEventListener("submit", lookup);
$("lookup-back").addEventListener("click", welcome);
$("idle-stay").addEventListener("click", stillHere);
for (const type of ["pointerdown", "touchstart", "keydown", "wheel"]) {
  document.addEventListener(type, stillHere, { capture: true, passive: true });
}
window.addEventListener("scroll", stillHere, { capture: true, passive: true }); // the page, or any box in it
buildKeypad();
show("welcome");
resume();
