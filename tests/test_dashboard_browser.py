"""The dashboard in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium) against
the real daemon: it loads without console errors and its live values change; its history charts draw the
daemon's own points; a recording (a file source) gets the demo banner, which also says why when the
fallback plays for a missing camera; a camera that vanishes (the fault-injecting source, as
tests/test_watchdog_daemon.py drills it) turns the health banner on with the reasons /api/health gives, and
off again when it returns; a session row opens its summary; and the page fits 800x480 and 1280x800 screens
without sideways scrolling."""
import json
import time
import urllib.request

import pytest

from edge.devtools.daemon import DaemonProcess
from tests.conftest import severe
from tests.helpers.daemon import get

pytestmark = pytest.mark.slow  # Chromium: make test runs it, make test-fast does not

VIDEO = "media/videos/pyfeat_single_face_talking.mp4"
HISTORY = "[history]\nwindow_minutes = 2\ninterval_s = 1\n"  # a point a second: charts fill within seconds
SCREENS = ((800, 480), (1280, 800))


def start(tmp_path, source, config: str = "") -> DaemonProcess:
    return DaemonProcess(tmp_path, str(source), HISTORY + config, token=False).start(timeout=30)


def api(daemon, path, method="GET"):
    """A JSON call with the CSRF proof a state change needs (no token: edge/web/security.py)."""
    csrf = json.loads(get(daemon.url + "/api/csrf")[1])
    request = urllib.request.Request(daemon.url + path, data=b"{}" if method == "POST" else None, method=method,
                                     headers={"Content-Type": "application/json", csrf["header"]: csrf["csrf_token"]})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read() or b"null")


def reader(browser):
    """textContent of the first match, None where it is absent or hidden: read in one script call, since the
    page re-renders on every event and element handles go stale."""
    return lambda css: browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e && !e.closest('[hidden]') ? e.textContent : null;",
        css)


def fits(browser, width, height) -> dict:
    browser.set_window_size(width, height)
    # the outer window includes the browser's frame: size the viewport itself
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    browser.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    time.sleep(0.5)  # the charts redraw on resize
    return browser.execute_script("""
        const chart = document.getElementById('chart-fps').getBoundingClientRect();
        const label = document.querySelector('#chart-fps .axis-label');
        return {viewport: [innerWidth, innerHeight], scroll: document.documentElement.scrollWidth,
                chart: chart.width, label: label ? parseFloat(getComputedStyle(label).fontSize) : null,
                banner: document.getElementById('banners').getBoundingClientRect().top};""")


def test_dashboard_updates_live_draws_its_history_and_links_sessions(shared_data, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    daemon = start(tmp_path, shared_data / VIDEO)
    try:
        browser.set_window_size(1280, 900)
        browser.get(daemon.url + "/")
        wait = WebDriverWait(browser, 20)
        text = reader(browser)
        wait.until(lambda b: text("#health") == "ok")
        wait.until(lambda b: text("#faces .face .title"))
        first = text("#counters")
        time.sleep(1.5)
        assert text("#counters") != first  # live values change
        title = text("#faces .face .title")
        assert title.startswith("face ") and "%" in title
        assert "No camera image is shown" in browser.find_element(By.TAG_NAME, "footer").text
        assert text("#health-banner") is None  # health is ok: no banner

        # a file is a recording, not a camera: said at the top, in words
        assert text("#demo-title") == "Playing a recorded video, not a live camera"
        assert "pyfeat_single_face_talking.mp4" in text("#demo-text") and "recording's" in text("#demo-text")

        # the charts draw the daemon's own points (one a second here); the man is in view throughout
        points = lambda css: int(browser.execute_script(  # noqa: E731
            "return document.querySelector(arguments[0]).dataset.points || 0", css))
        wait.until(lambda b: min(points("#chart-mix"), points("#chart-fps"), points("#chart-latency")) >= 3)
        drawn = browser.execute_script("""return {
            bands: [...document.querySelectorAll('#chart-mix path.band')].map(p => p.getAttribute('class')),
            fps: document.querySelector('#chart-fps path.fps').getAttribute('d'),
            p50: document.querySelector('#chart-latency path.p50').getAttribute('d'),
            p95: document.querySelector('#chart-latency path.p95').getAttribute('d'),
            legend: document.getElementById('mix-legend').textContent};""")
        assert {"band e-happy", "band e-neutral", "band e-uncertain"} <= set(drawn["bands"])
        assert drawn["fps"].startswith("M") and drawn["p50"].startswith("M") and drawn["p95"].startswith("M")
        assert "neutral" in drawn["legend"] and "no face" in drawn["legend"]
        served = json.loads(get(daemon.url + "/api/history")[1])
        assert served["interval_s"] == 1 and len(served["points"]) >= points("#chart-fps") - 2
        assert all(p["frames"] > 0 and p["shares"] is not None for p in served["points"])
        assert "fps over 1 s" in text("#fps-latest") and "p95" in text("#latency-latest")
        assert text("#history-span") == "· last 2 min, a point every 1 s"  # the window is 2 min: one range
        assert browser.execute_script(
            "return [...document.querySelectorAll('.range button')].filter(b => !b.hidden).length") == 1

        for width, height in SCREENS:
            layout = fits(browser, width, height)
            assert layout["viewport"] == [width, height], layout
            assert layout["scroll"] <= width, layout  # no sideways scrolling
            assert layout["chart"] >= 240 and layout["label"] >= 10, layout  # charts wide, labels readable
            assert layout["banner"] < height / 2, layout  # the banners come first
        assert severe(browser) == []

        # a finished session: its row opens its summary on the kiosk page
        session = api(daemon, "/api/sessions", "POST")
        time.sleep(1.2)
        api(daemon, f"/api/sessions/{session['id']}/stop", "POST")
        browser.set_window_size(1280, 900)
        browser.get(daemon.url + "/")
        wait.until(lambda b: text("#sessions tbody tr") is not None)
        link = browser.execute_script("return document.querySelector('#sessions tbody tr a').getAttribute('href')")
        assert link == f"/kiosk?session={session['id']}"
        assert "finished" in text("#sessions tbody tr") and "open summary" in text("#sessions tbody tr a")
        browser.find_element(By.CSS_SELECTOR, "#sessions tbody tr td").click()  # the row, not only the link
        wait.until(lambda b: b.current_url == f"{daemon.url}/kiosk?session={session['id']}")
    finally:
        daemon.stop()


def test_health_banner_says_why_when_the_camera_vanishes_and_goes_when_it_returns(noise_clip, tmp_path, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    control = tmp_path / "faults"
    # no camera at the configured device: the fallback, a clip that misbehaves on command, plays instead
    daemon = start(tmp_path, "/dev/video97", f'[source]\nfallback_spec = "faults:{control}:{noise_clip}"\n')
    try:
        browser.set_window_size(800, 480)
        browser.get(daemon.url + "/")
        wait = WebDriverWait(browser, 20)
        text = reader(browser)
        wait.until(lambda b: text("#health") == "ok")
        assert text("#health-banner") is None
        assert text("#demo-title") == "Playing a recorded video, not a live camera"  # a drill on a file still is
        assert "The configured source did not open (/dev/video97 could not be opened" in text("#demo-text")

        control.write_text("vanish")  # reads fail and the device cannot be reopened: an unplugged camera
        wait.until(lambda b: text("#health-banner") is not None)
        health = daemon.health()
        assert health["status"] == "degraded" and any(r.startswith("camera:") for r in health["reasons"])
        banner = browser.execute_script("""const b = document.getElementById('health-banner');
            return {cls: b.className, title: document.getElementById('health-title').textContent,
                    reasons: [...b.querySelectorAll('#health-reasons li')].map(li => li.textContent),
                    top: b.getBoundingClientRect().top, colour: getComputedStyle(b).backgroundColor};""")
        assert banner["cls"] == "banner degraded" and banner["title"].startswith("Degraded")
        assert any(r.startswith("camera:") for r in banner["reasons"]), banner
        assert banner["top"] < 480 / 2 and banner["colour"] != "rgba(0, 0, 0, 0)"  # on the first screen, coloured
        assert text("#health") == "degraded"
        # the same reasons as /api/health's, within a poll (the reasons' figures, e.g. seconds, move on)
        wait.until(lambda b: [r.split(" (")[0] for r in daemon.health()["reasons"]] == browser.execute_script(
            "return [...document.querySelectorAll('#health-reasons li')].map(li => li.textContent.split(' (')[0])"))

        control.write_text("ok")  # the camera returns: the watchdog reconnects, the banner goes
        wait.until(lambda b: text("#health-banner") is None and text("#health") == "ok")
        assert severe(browser) == []
    finally:
        daemon.stop()
