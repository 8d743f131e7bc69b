// The kiosk's summary, drawn from a session's detail (GET /api/sessions/{id}): the questions side by side,
// the legend, the QR code's text, tips and timelines per question, and the same on one PNG card drawn in the
// browser. Rendering only: kiosk.js decides when a summary is shown, and keeps the session it belongs to.
// Needs kiosk-common.js (and qr.js) loaded before it.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const SERIES = [...EXPRESSIONS, "uncertain"];
const LIGHT = new Set(["neutral", "surprise"]); // colours light enough for dark text on them
const KIND_LABELS = { strength: "Went well", suggestion: "To try", note: "Note" };

const pct = (share) => `${Math.round(share * 100)} %`;
const day = (epoch) => new Date(epoch * 1000).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// ---- charts and lists ----------------------------------------------------------------------------------

function legend() {
  const items = [...SERIES, "noface"].map((name) => {
    const item = el("span", "legend-item");
    item.append(el("span", `swatch e-${name}`), name === "noface" ? "no face" : name);
    return item;
  });
  $("legend").replaceChildren(...items);
}

// A part's label goes inside it only where the text fits with a margin each side: its name and figure, else
// the figure alone (the colour and the legend name it), else none. Never shortened, never spilling onto the
// next part; a part left bare carries its figure in its title, the chart's accessible name and the lists of
// shares per question below (on the card, a line under its bar).
const LABEL_MARGIN = 5;

function barParts(shares, barW, measure) {
  const parts = [];
  let x = 0;
  for (const name of SERIES) {
    const share = shares[name] || 0;
    if (share <= 0) continue;
    const w = share * barW;
    const label = [`${name} ${pct(share)}`, pct(share)].find((t) => measure(t) + 2 * LABEL_MARGIN <= w) || null;
    parts.push({ name, share, x, w, label });
    x += w;
  }
  return parts;
}

// The summary is drawn while its screen is hidden, where SVG text has no layout to measure: a canvas measures
// with the font the stylesheet gives the labels instead (in the chart's own units, as its font size is).
function textMeasure(className) {
  const probe = el("span");
  probe.hidden = true;
  const text = svg("text", { class: className });
  probe.appendChild(svg("svg", { class: "compare-chart" })).appendChild(text);
  document.body.appendChild(probe);
  const style = getComputedStyle(text);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  probe.remove();
  return (t) => ctx.measureText(t).width;
}

const figures = (shares) => SERIES.filter((n) => Math.round((shares[n] || 0) * 100) >= 1)
  .map((n) => `${n} ${pct(shares[n])}`).join(", ");

// The questions side by side: one bar per question, split by the share of face time most people would
// have read as each expression (and the share the model could not read).
function compareChart(rows) {
  const labelW = 60, barW = 520, rowH = 34, gap = 10, top = 4;
  const height = top + rows.length * (rowH + gap);
  const read = rows.map((row) => `${row.label}: ${figures(row.shares) || "no reading"}.`).join(" ");
  const chart = svg("svg", { viewBox: `0 0 ${labelW + barW} ${height}`, class: "compare-chart", role: "img",
    "aria-label": `Expression shares per question. ${read}` });
  const measure = textMeasure("bar-label");
  rows.forEach((row, r) => {
    const y = top + r * (rowH + gap);
    const label = svg("text", { x: 0, y: y + rowH / 2 + 6, class: "row-label" });
    label.textContent = row.label;
    chart.appendChild(label);
    chart.appendChild(svg("rect", { x: labelW, y, width: barW, height: rowH, class: "e-noface" }));
    for (const p of barParts(row.shares, barW, measure)) {
      const x = labelW + p.x;
      const part = svg("rect", { x, y, width: p.w, height: rowH, class: `e-${p.name}`, "data-series": p.name,
        "data-row": r });
      const title = svg("title", {});
      title.textContent = `${row.label}: ${p.name} ${pct(p.share)}`;
      part.appendChild(title);
      chart.appendChild(part);
      if (p.label) {
        const text = svg("text", { x: x + p.w / 2, y: y + rowH / 2 + 5, "text-anchor": "middle",
          class: `bar-label${LIGHT.has(p.name) ? " on-light" : ""}`, "data-series": p.name, "data-row": r });
        text.textContent = p.label;
        chart.appendChild(text);
      }
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

// ---- the QR code -------------------------------------------------------------------------------------

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

// ---- the summary screen ------------------------------------------------------------------------------

// Fills the summary screen's elements (kiosk.html's #summary) from a session's detail; shows nothing itself.
function renderSummary(detail) {
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
      ctx.font = "20px system-ui, sans-serif";
      const parts = barParts(row.shares, barW, (t) => ctx.measureText(t).width);
      for (const p of parts) {
        ctx.fillStyle = colours[p.name];
        ctx.fillRect(pad + labelW + p.x, y, p.w, barH);
      }
      ctx.textAlign = "center";
      for (const p of parts.filter((q) => q.label)) {
        ctx.fillStyle = LIGHT.has(p.name) ? "#1d2330" : "#fff";
        ctx.fillText(p.label, pad + labelW + p.x + p.w / 2, y + barH * 0.66);
      }
      ctx.textAlign = "left";
      y += barH;
      // a picture has no tooltip and no lists below: the figures its bar could not show go under it
      const bare = parts.filter((p) => p.label === null);
      const rest = figures(Object.fromEntries(bare.map((p) => [p.name, p.share])));
      if (rest) {
        ctx.font = "18px system-ui, sans-serif";
        ctx.fillStyle = "#555";
        for (const line of wrap(ctx, `${bare.length === parts.length ? "" : "Also: "}${rest}`, barW)) {
          ctx.fillText(line, pad + labelW, y + 22);
          y += 26;
        }
      }
      y += 12;
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

// Draws the card of a session's detail and downloads it as practice-summary-<date>.png.
async function savePicture(detail) {
  const W = 1200;
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = drawCard(detail, canvas.getContext("2d"), W); // measure (the canvas is cleared on resize)
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, canvas.height);
  drawCard(detail, ctx, W);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `practice-summary-${new Date(detail.started_at * 1000).toISOString().slice(0, 10)}.png`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
