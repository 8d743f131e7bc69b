// What the kiosk's two scripts share: finding and making elements, the error line, the JSON API.
// Loaded first; kiosk-summary.js draws the summary, kiosk.js runs the screens (kiosk.html loads them in order).
"use strict";

const $ = (id) => document.getElementById(id);
const EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

function el(tag, className, textContent) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (textContent !== undefined) e.textContent = textContent;
  return e;
}

// A summary's code as shown and typed: ABCD-EFGH.
const formatCode = (code) => `${code.slice(0, 4)}-${code.slice(4)}`;

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
