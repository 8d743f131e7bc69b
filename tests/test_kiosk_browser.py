"""The interview-practice kiosk in real headless Chromium against the real daemon, as a candidate uses it, at
the Raspberry Pi 7" touchscreen's 800x480 and at 1280x800: consent, a question bank, the preparation
countdown, answers timed and moved on by the clock (or early by a tap), the summary with its chart and code,
a picture of it, leaving it and coming back to it (by "Back to my summary", by the code on the keypad, by the
dashboard's link), and erasing it. Every screen's primary buttons must be on screen without scrolling."""
import json
import re
import time

import pytest

from edge.devtools.daemon import DaemonProcess
from tests.conftest import ROOT, severe
from tests.helpers.daemon import get

pytestmark = pytest.mark.slow  # Chromium: make test runs it, make test-fast does not

VIDEO = "media/videos/pyfeat_single_face_talking.mp4"
PREPARE_S, ANSWER_S = 1, 3
# short timers and a two-question bank first, so a whole session takes seconds
CONFIG = f"""[models]
dir = "{ROOT / 'models'}"
[sessions]
prepare_s = {PREPARE_S}
answer_s = {ANSWER_S}
[[sessions.question_banks]]
name = "Quick"
questions = ["Tell me about yourself.", "Why this job?"]
[[sessions.question_banks]]
name = "Longer"
questions = ["One?", "Two?", "Three?"]
"""
def read_qr(image) -> str:
    """The text of the QR code in a grey image, by either of OpenCV's detectors (each misses some codes)."""
    import cv2
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        text = detector.detectAndDecode(image)[0]
        if text:
            return text
    return ""


CODE = re.compile(r"^[2-9A-HJKMNP-TW-Z]{4}-[2-9A-HJKMNP-TW-Z]{4}$")


def fit(browser, width, height):
    """Make the page's viewport (not the window) width x height."""
    browser.set_window_size(width, height)
    inner = browser.execute_script("return [innerWidth, innerHeight]")
    browser.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    assert browser.execute_script("return [innerWidth, innerHeight]") == [width, height]


# The parts that ran into each other on the demo clip's summary ("neutral 15 %" over "uncertain 13 %"), eight
# equal parts, slivers, and one part left after a wide one.
NARROW_ROWS = [
    {"label": "Q1", "shares": {"angry": .01, "disgust": .015, "fear": .03, "happy": .24, "sad": .39, "surprise": .035,
                               "neutral": .15, "uncertain": .13}},
    {"label": "Q2", "shares": dict.fromkeys(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
                                             "uncertain"], 1 / 8)},
    {"label": "Q3", "shares": {"happy": .77, "sad": .15, "surprise": .005, "neutral": .03, "uncertain": .045}},
    {"label": "Q10", "shares": {"neutral": .06, "uncertain": .94}},
]

# The chart's bar labels, and what is wrong: a label not wholly inside its own part of the bar (getBBox, in
# the chart's units), or two texts of the chart on each other (getBoundingClientRect, on screen).
CHART_LABELS = """
const chart = arguments[0], bad = [];
const labels = [...chart.querySelectorAll('text.bar-label')];
for (const t of labels) {
  const part = chart.querySelector(`rect[data-row="${t.dataset.row}"][data-series="${t.dataset.series}"]`);
  const b = t.getBBox(), r = part.getBBox();
  if (!(b.width > 0 && b.x >= r.x - .5 && b.x + b.width <= r.x + r.width + .5 && b.y >= r.y - .5
        && b.y + b.height <= r.y + r.height + .5)) bad.push(['outside its part', t.textContent, t.dataset.row]);
}
const texts = [...chart.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
texts.forEach(([s, a], i) => texts.slice(i + 1).forEach(([u, b]) => {
  if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) bad.push(['overlap', s, u]);
}));
return [labels.map(t => t.textContent), bad];
"""

# The same for the PNG card, drawn on a canvas whose fillRect and fillText are recorded: a text drawn on a
# part of a bar must lie inside that part and overlap no other text of the card.
CARD_LABELS = """
const detail = structuredClone(current);
detail.summary.segments = arguments[0].map((row, i) => ({index: i, question: `Question ${i + 1}?`,
  duration_s: 10, shares: row.shares}));
detail.advice = [];
const canvas = document.createElement('canvas');
canvas.width = 1200;
canvas.height = 2000;
const ctx = canvas.getContext('2d'), rects = [], texts = [];
const fillRect = ctx.fillRect.bind(ctx), fillText = ctx.fillText.bind(ctx);
ctx.fillRect = (x, y, w, h) => { rects.push({x, y, w, h}); fillRect(x, y, w, h); };
ctx.fillText = (t, x, y) => {
  const m = ctx.measureText(t), left = ctx.textAlign === 'center' ? x - m.width / 2 : x;
  texts.push({t, left, right: left + m.width, top: y - m.fontBoundingBoxAscent, bottom: y + m.fontBoundingBoxDescent});
  fillText(t, x, y);
};
drawCard(detail, ctx, 1200);
const bad = [], labels = [];
for (const t of texts) {
  const cx = (t.left + t.right) / 2, cy = (t.top + t.bottom) / 2;
  const part = rects.filter(r => r.x <= cx && cx <= r.x + r.w && r.y <= cy && cy <= r.y + r.h).pop();
  if (!part) continue;
  labels.push(t);
  if (!(t.left >= part.x - .5 && t.right <= part.x + part.w + .5 && t.top >= part.y - .5
        && t.bottom <= part.y + part.h + .5)) bad.push(['outside its part', t.t]);
  for (const u of texts) {
    if (u !== t && t.left < u.right && u.left < t.right && t.top < u.bottom && u.top < t.bottom) bad.push(['overlap', t.t, u.t]);
  }
}
return [labels.map(t => t.t), bad, texts.map(t => t.t)];
"""


def assert_on_screen(browser, *ids):
    """Each button is shown, wholly inside the viewport, at least 44 px each way, with the page unscrolled."""
    boxes = browser.execute_script(
        "return [scrollY, arguments[0].map(id => { const e = document.getElementById(id); "
        "const r = e.getBoundingClientRect(); return [id, !e.closest('[hidden]'), "
        "r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth, "
        "Math.round(r.width), Math.round(r.height)]; })]", list(ids))
    scrolled, found = boxes
    assert scrolled == 0
    bad = [b for b in found if not (b[1] and b[2] and b[3] >= 44 and b[4] >= 44)]
    assert bad == [], f"not on screen, or smaller than 44 px: {bad}"


@pytest.mark.parametrize("width, height, early", [(800, 480, False), (1280, 800, True)])
def test_a_candidate_from_consent_to_an_erased_summary(shared_data, tmp_path, browser, width, height, early):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    daemon = DaemonProcess(tmp_path, str(shared_data / VIDEO), CONFIG, token=False).start(timeout=30)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    try:
        wait = WebDriverWait(browser, 20)
        # the meter re-renders on every event: read state in one script call, not through element handles
        js = lambda script, *args: browser.execute_script(script, *args)  # noqa: E731
        text = lambda css: js("const e = document.querySelector(arguments[0]); "  # noqa: E731
                              "return e && !e.closest('[hidden]') ? e.textContent : null;", css)
        screen = lambda: js("return document.body.dataset.screen")  # noqa: E731
        tap = lambda element_id: browser.find_element(By.ID, element_id).click()  # noqa: E731
        live = lambda: json.loads(get(daemon.url + "/api/sessions/live")[1])  # noqa: E731
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        fit(browser, width, height)

        code, body, headers = get(daemon.url + "/privacy/operator")  # the operator's own document
        assert code == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"

        browser.get(daemon.url + "/kiosk")
        wait.until(lambda b: js("return document.readyState") == "complete" and screen() == "welcome")
        assert_on_screen(browser, "begin", "find")
        assert text("#back-to-summary") is None  # nobody's summary to go back to yet

        # consent first, in plain words; "No thanks" leads out without touching the camera
        tap("begin")
        assert screen() == "consent"
        consent = text("#consent")
        for words in ("how most people would read your face", "No picture or video", "kept for 30 days",
                      "erase it"):
            assert words in " ".join(consent.split()), words
        assert browser.find_element(By.CSS_SELECTOR, '#consent a[href="/privacy"]')
        assert_on_screen(browser, "agree", "decline")
        tap("decline")
        assert screen() == "welcome" and live()["recording"] is False
        tap("begin")
        tap("agree")

        # the banks from the config, as large buttons; the first is chosen
        assert screen() == "setup"
        banks = js("return [...document.querySelectorAll('#banks button')].map(b => "
                   "[b.querySelector('.bank-name').textContent, b.getAttribute('aria-pressed')])")
        assert banks == [["Quick", "true"], ["Longer", "false"], ["My own", "false"]]
        assert_on_screen(browser, "start", "setup-back")
        browser.find_element(By.CSS_SELECTOR, '#banks [data-bank="1"]').click()
        assert text("#own") is None
        browser.find_element(By.CSS_SELECTOR, '#banks [data-bank="0"]').click()
        browser.find_element(By.ID, "alias").send_keys("Kim")
        tap("start")

        # question 1: its countdown, nothing recorded meanwhile
        wait.until(lambda b: text("#question") == "Tell me about yourself.")
        assert js("return document.getElementById('phase').dataset.phase") == "prepare"
        assert_on_screen(browser, "ready", "stop")
        state = live()
        session_id = state["session_id"]
        assert state["recording"] and state["phase"] == "prepare" and state["question_index"] == 0
        if early:
            tap("ready")  # the candidate needs no countdown
        wait.until(lambda b: js("return document.getElementById('phase').dataset.phase") == "answer")
        assert live()["phase"] == "answer"
        wait.until(lambda b: js("return document.getElementById('meter-label').dataset.state") in ("face", "uncertain"))
        assert_on_screen(browser, "next", "stop")
        assert re.fullmatch(r"0:0[0-3]", text("#timer"))

        # the answer's time runs out: on to question 2's countdown, then its answer
        wait.until(lambda b: text("#question") == "Why this job?")
        wait.until(lambda b: js("return document.getElementById('phase').dataset.phase") == "answer")
        assert text("#next") is None and text("#stop") == "Finish"  # the last question: only Finish is left
        assert_on_screen(browser, "stop")
        if early:
            time.sleep(2.2)  # a second belongs to the question current when it began: give it two
            tap("stop")
        wait.until(lambda b: screen() == "summary")

        # the summary: both questions side by side, its code, its actions on screen
        rows = js("return [...document.querySelectorAll('#compare svg text.row-label')].map(t => t.textContent)")
        assert rows == ["Q1", "Q2"]
        assert js("return document.querySelectorAll('#compare svg rect[data-series]').length") >= 2
        shown = text("#code")
        assert CODE.match(shown), shown
        assert "until" in text("#kept") and text("#summary-title") == "Kim's practice session"
        parts = js("return [...document.querySelectorAll('#parts .part h3')].map(h => h.textContent)")
        assert parts == ["Question 1", "Question 2"]
        labels = js("return [...document.querySelectorAll('.tips li[data-kind]')].map(li => "
                    "[li.dataset.kind, li.querySelector('.kind').textContent])")
        assert all(label == {"strength": "Went well", "suggestion": "To try", "note": "Note"}[kind]
                   for kind, label in labels), labels
        assert "not a score" in text("#disclaimer")
        assert_on_screen(browser, "done", "save-png", "print", "delete")
        # the chart's labels only where they fit: this session's, then narrow parts drawn on the same page
        labels, bad = js(CHART_LABELS, browser.find_element(By.CSS_SELECTOR, "#compare svg"))
        assert bad == [], (labels, bad)
        labels, bad = js("const c = compareChart(arguments[0]); document.getElementById('compare').appendChild(c); "
                         f"try {{ return (function () {{ {CHART_LABELS} }}).call(null, c); }} finally {{ c.remove(); }}",
                         NARROW_ROWS)
        assert bad == [], (labels, bad)
        assert {"happy 24 %", "sad 39 %", "happy 77 %", "uncertain 94 %"} <= set(labels), labels
        labels, bad, texts = js(CARD_LABELS, NARROW_ROWS)
        assert bad == [], (labels, bad)
        assert {"happy 24 %", "sad 39 %", "happy 77 %", "uncertain 94 %"} <= set(labels), labels
        assert any(t.startswith("Also: angry 1 %, disgust 2 %") for t in texts), texts  # a picture has no tooltip
        assert severe(browser) == []

        # the QR code: only the shares per question, as text a phone reads without any network
        import cv2
        import numpy as np
        carried = js("return qrText(current)")
        assert carried.splitlines()[2].startswith("Q1: ") and carried.splitlines()[3].startswith("Q2: ")
        assert "Kim" not in carried and shown.replace("-", "") not in carried and "%" in carried
        qr = browser.find_element(By.CSS_SELECTOR, "#qr svg")
        js("arguments[0].scrollIntoView({block: 'center'})", qr)  # clear of the bar of actions at the bottom
        png = qr.screenshot_as_png
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert read_qr(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)) == carried

        detail = json.loads(get(daemon.url + f"/api/sessions/{session_id}")[1])
        assert detail["code"] == shown.replace("-", "") and detail["status"] == "finished"
        summary = detail["summary"]
        # the countdowns are in no question's segment and not counted as missing
        assert all(second["segment"] is not None for second in summary["overall"]["timeline"])
        assert sum(s["duration_s"] for s in summary["segments"]) == summary["overall"]["duration_s"]
        assert all(s["duration_s"] >= 2 for s in summary["segments"]) and summary["missing_s"] <= 1
        if not early:  # the clock ended both answers: about ANSWER_S each (a second begun counts whole)
            assert all(ANSWER_S <= s["duration_s"] <= ANSWER_S + 2 for s in summary["segments"])
        listed = json.loads(get(daemon.url + "/api/sessions")[1])
        assert [s["id"] for s in listed] == [session_id] and "code" not in listed[0]  # codes are never listed

        # a picture of the summary card, made in the browser and downloaded
        tap("save-png")
        deadline = time.time() + 10
        while time.time() < deadline and not [p for p in downloads.glob("*.png")]:
            time.sleep(0.2)
        picture = next(downloads.glob("*.png")).read_bytes()
        assert picture[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(picture[16:20], "big") == 1200 and int.from_bytes(picture[20:24], "big") > 400

        # leaving, and back to it from the welcome screen
        tap("done")
        assert screen() == "welcome"
        assert_on_screen(browser, "begin", "back-to-summary", "find")
        tap("back-to-summary")
        wait.until(lambda b: screen() == "summary" and text("#code") == shown)
        tap("done")

        # by its code on the keypad: a wrong one first
        tap("find")
        assert screen() == "lookup"
        assert_on_screen(browser, "lookup-go", "lookup-back")
        keys = js("return [...document.querySelectorAll('#keypad button')].map(b => b.offsetHeight)")
        assert len(keys) == 30 and min(keys) >= 44
        wrong = "2222-2222" if shown != "2222-2222" else "3333-3333"
        for key in wrong.replace("-", ""):
            browser.find_element(By.CSS_SELECTOR, f'#keypad [data-key="{key}"]').click()
        assert browser.find_element(By.ID, "code-input").get_attribute("value") == wrong
        tap("lookup-go")
        wait.until(lambda b: "No summary has this code" in (text("#error") or ""))
        browser.find_element(By.CSS_SELECTOR, '#keypad [data-key="back"]').click()
        assert browser.find_element(By.ID, "code-input").get_attribute("value") == wrong[:-1]
        browser.find_element(By.ID, "code-input").clear()
        for key in shown.replace("-", ""):
            browser.find_element(By.CSS_SELECTOR, f'#keypad [data-key="{key}"]').click()
        tap("lookup-go")
        wait.until(lambda b: screen() == "summary" and text("#code") == shown)
        assert text("#error") is None

        # the dashboard links each session to /kiosk?session=<id>
        browser.get(daemon.url + f"/kiosk?session={session_id}")
        wait.until(lambda b: screen() == "summary" and text("#code") == shown)

        # erased: gone from the booth, and the code opens nothing
        tap("delete")
        assert text("#delete") == "Tap again to delete for good"
        tap("delete")
        wait.until(lambda b: screen() == "deleted")
        assert_on_screen(browser, "restart")
        assert get(daemon.url + f"/api/sessions/{session_id}")[0] == 404
        tap("restart")
        assert screen() == "welcome" and text("#back-to-summary") is None
        browser.get(daemon.url + f"/kiosk?session={session_id}")
        wait.until(lambda b: "no longer on this booth" in (text("#error") or ""))
        assert screen() == "welcome"
        assert [e for e in severe(browser) if "404" not in e["message"]] == []  # the deleted session's 404
    finally:
        daemon.stop()


def test_the_qr_encoder_is_read_back_for_every_version(browser):
    """edge/web/static/qr.js against OpenCV's decoders, from 1 byte (version 1) to 412 (version 15, its limit)."""
    import random

    import cv2
    import numpy as np
    browser.get("data:text/html,<p>qr</p>")
    browser.execute_script((ROOT / "edge/web/static/qr.js").read_text() + "\nwindow.qrMatrix = qrMatrix;")
    rng = random.Random(7)
    versions = set()
    for length in (1, 14, 15, 26, 27, 42, 43, 62, 63, 84, 85, 106, 107, 122, 123, 152, 153, 180, 181, 213, 214,
                   251, 252, 287, 288, 331, 332, 362, 363, 412):
        text = "".join(rng.choice("Q1: happy 68%, neutral 31%\nABCXYZ.") for _ in range(length))
        matrix = np.array(browser.execute_script("return qrMatrix(arguments[0])", text))
        version = (len(matrix) - 17) // 4
        versions.add(version)
        image = np.pad(np.where(matrix, 0, 255).astype(np.uint8), 4, constant_values=255)
        image = cv2.resize(image, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
        assert read_qr(image) == text, (length, version)
    assert versions == set(range(1, 16))
    error = browser.execute_script("try { qrMatrix('x'.repeat(413)); } catch (e) { return e.message; }")
    assert error == "too long for a QR code of version 15 (413 bytes)"


IDLE_S = 10  # the least sessions.summary_idle_s allows: the notice shows for its last 5 s
IDLE_CONFIG = f"""[models]
dir = "{ROOT / 'models'}"
[sessions]
prepare_s = 0
answer_s = 0
summary_idle_s = {IDLE_S}
[[sessions.question_banks]]
name = "One"
questions = ["Tell me about yourself."]
"""


def test_an_untouched_screen_goes_back_to_the_start(noise_clip, tmp_path, browser):
    """sessions.summary_idle_s: consent, the questions, the code and the summary go back to the welcome screen
    when nobody touches them, after a notice to stay; a tap, a key or a scroll starts the wait again; never while
    recording. The summary stays reachable: "Back to my summary" for 3 minutes after the last touch."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    daemon = DaemonProcess(tmp_path, str(noise_clip), IDLE_CONFIG, token=False).start(timeout=30)
    try:
        wait = WebDriverWait(browser, IDLE_S + 5, poll_frequency=0.1)
        js = lambda script, *args: browser.execute_script(script, *args)  # noqa: E731
        screen = lambda: js("return document.body.dataset.screen")  # noqa: E731
        notice = lambda: js("const e = document.getElementById('idle'); return e.hidden ? null "  # noqa: E731
                            ": e.textContent.replace(/\\s+/g, ' ').trim()")
        tap = lambda element_id: browser.find_element(By.ID, element_id).click()  # noqa: E731
        fit(browser, 800, 480)
        browser.get(daemon.url + "/kiosk")
        wait.until(lambda b: js("return document.readyState") == "complete" and screen() == "welcome")
        assert js("return JSON.parse(document.getElementById('kiosk-setup').textContent).summary_idle_s") == IDLE_S

        # consent: the notice, its button to stay, then back to the start a whole wait after that tap
        tap("begin")
        shown = time.monotonic()
        wait.until(lambda b: notice())
        assert time.monotonic() - shown >= IDLE_S / 2 - 0.5 and screen() == "consent"
        assert re.fullmatch(r"Still there\? Returning to the start in [1-5] s I'm still here", notice()), notice()
        assert_on_screen(browser, "idle-stay")
        tap("idle-stay")
        stayed = time.monotonic()
        assert notice() is None and screen() == "consent"
        wait.until(lambda b: screen() == "welcome")
        assert time.monotonic() - stayed >= IDLE_S - 0.5 and notice() is None

        # choosing the questions: a key typed is a sign of life too
        tap("begin")
        tap("agree")
        wait.until(lambda b: notice())
        browser.find_element(By.ID, "alias").send_keys("K")
        typed = time.monotonic()
        assert notice() is None and screen() == "setup"
        wait.until(lambda b: screen() == "welcome")
        assert time.monotonic() - typed >= IDLE_S - 0.5

        # the code's screen, left as it is
        tap("find")
        wait.until(lambda b: screen() == "welcome")

        # recording is never cut short, however long nobody touches the booth (the answer has no limit here)
        tap("begin")
        tap("agree")
        tap("start")
        wait.until(lambda b: screen() == "recording")
        time.sleep(IDLE_S + 2)
        assert screen() == "recording" and notice() is None
        assert json.loads(get(daemon.url + "/api/sessions/live")[1])["recording"] is True
        tap("stop")  # "Finish": the only question

        # the summary: scrolling through it starts the wait again; left alone, it goes back to the start
        wait.until(lambda b: screen() == "summary" and js("return current !== null"))
        code = js("return document.getElementById('code').textContent")
        wait.until(lambda b: notice())
        js("window.scrollBy(0, 200)")
        wait.until(lambda b: notice() is None)
        scrolled = time.monotonic()
        assert screen() == "summary"
        wait.until(lambda b: screen() == "welcome")
        assert time.monotonic() - scrolled >= IDLE_S - 0.5
        # "Back to my summary" as after "Done" at the last touch: 3 minutes from then, not from now
        left = js("return (lastSummary.until - Date.now()) / 1000")
        assert 180 - IDLE_S - 2 <= left <= 180 - IDLE_S + 0.5, left
        assert_on_screen(browser, "begin", "back-to-summary", "find")
        tap("back-to-summary")
        wait.until(lambda b: screen() == "summary" and js("return document.getElementById('code').textContent") == code)
        assert severe(browser) == []
    finally:
        daemon.stop()
