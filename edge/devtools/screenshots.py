"""Screenshots of every screen for docs/screenshots/ (`make screenshots`): the real daemon on the bundled demo
clip, Debian's headless Chromium driven through Selenium, the kiosk walked as a candidate walks it at the
Raspberry Pi 7" touchscreen's 800x480 and at 1280x800, then the candidates' privacy page and the operator's
dashboard at both sizes. Writes the PNGs and a gallery (README.md) beside them.

    python -m edge.devtools.screenshots [--out docs/screenshots]

Selenium (make .venv/.test) and Chromium with its driver (apt install chromium chromium-driver) are needed
only here: they are imported inside the functions, so the fast test lane imports this module without them.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from edge.devtools.daemon import ROOT, DaemonProcess

SIZES = ((800, 480), (1280, 800))
# Answers just over the short_answer rule's 10 s, so the summary shows the tips a real answer gets, not
# "too short" notes; a few seconds of countdown, so there is time to take its picture.
PREPARE_S, ANSWER_S = 3, 12
CONFIG = f"""[history]
window_minutes = 3
interval_s = 2
[sessions]
prepare_s = {PREPARE_S}
answer_s = {ANSWER_S}
operator_name = "Example Careers Centre, 1 High Street, Exampletown"
operator_contact = "privacy@example.org, or the front desk"
"""
# (file name stem, title, what it shows) in the order a candidate, then an operator, meets them
SCREENS = (
    ("kiosk-welcome", "Welcome", "what the booth does; Start, or see a summary again by its code"),
    ("kiosk-consent", "Consent", ("what is measured, that nothing is recorded or sent, how long the summary "
                                  "is kept, how to erase it: before the camera is used")),
    ("kiosk-questions", "Choose the questions", "the question banks from the config, an optional name"),
    ("kiosk-prepare", "Preparing", "the question with its countdown (nothing recorded yet) and the live meter"),
    ("kiosk-answer", "Answering", "recording, the time left for the answer, the live meter"),
    ("kiosk-summary", "Summary", "the code to see it again, the questions side by side, the QR code of the shares"),
    ("kiosk-summary-tips", "Summary, scrolled to the tips", "what went well and what to try, per question"),
    ("kiosk-code", "See your summary again", "the code typed on the on-screen keypad"),
    ("kiosk-deleted", "Deleted", "after Delete this session, tapped twice"),
    ("privacy", "Privacy notice", "the candidates' page at /privacy, in plain words"),
    ("privacy-end", "Privacy notice, scrolled to the end", ("who runs the booth, filled from the config "
                                                            "(left out where the first screen shows it)")),
    ("dashboard", "Dashboard", "the operator's page at /: health, the demo banner, the history charts"),
    ("dashboard-whole", "Dashboard, the whole page", ("as a tall desktop window shows it: faces, latency, "
                                                      "counters, monitoring, models, recent sessions too")),
)
WALKS = (("General", "Kim"), ("Behavioural", "Alex"))  # one per size: (question bank, the candidate's name)


def summary_idle_setting() -> str:
    """sessions.summary_idle_s, where this version has it, as long as it may be: the summary must not return
    to the welcome screen while its pictures are taken."""
    from edge.sessions.settings import SessionSettings
    field = SessionSettings.model_fields.get("summary_idle_s")
    if field is None:
        return ""
    limits = [m.le for m in field.metadata if getattr(m, "le", None) is not None]
    return f"summary_idle_s = {min([3600, *limits])}\n"


def chromium():
    """Debian's headless Chromium through Selenium, or an exit that says what to install."""
    chrome, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chrome and driver):
        sys.exit("screenshots: Chromium or chromedriver not found: install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        sys.exit("screenshots: selenium is not installed: make .venv/.test (then run .venv/bin/python)")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def fit(browser, width: int, height: int) -> None:
    """Make the page's viewport (not the window, which has a frame) width x height."""
    browser.set_window_size(width, height)
    inner = browser.execute_script("return [innerWidth, innerHeight]")
    browser.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    got = browser.execute_script("return [innerWidth, innerHeight]")
    if got != [width, height]:
        raise RuntimeError(f"the viewport is {got[0]}x{got[1]}, not {width}x{height}")


def small_png(png: bytes) -> bytes:
    """The screenshot in a palette of at most 256 colours, a third of the size: these pages hold few colours
    besides anti-aliased text. Maximum coverage keeps every colour within a few levels of the original
    (median cut moved the charts' small legend swatches far enough to mistake one expression for another).
    As taken where Pillow is missing."""
    try:
        from PIL import Image
    except ImportError:
        return png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


class Shooter:
    """The browser and the daemon, and the screenshots taken so far."""

    def __init__(self, browser, daemon: DaemonProcess, out: Path) -> None:
        from selenium.webdriver.support.ui import WebDriverWait
        self.browser, self.daemon, self.out = browser, daemon, out
        self.wait = WebDriverWait(browser, 30)
        self.sizes: dict[str, int] = {}

    def js(self, script: str, *args):
        return self.browser.execute_script(script, *args)

    def text(self, css: str) -> str | None:
        """textContent of the first match, None where absent or hidden; one script call, since the pages
        re-render on every event and element handles go stale."""
        return self.js("const e = document.querySelector(arguments[0]); "
                       "return e && !e.closest('[hidden]') ? e.textContent : null;", css)

    def screen(self) -> str | None:
        return self.js("return document.body.dataset.screen || null")

    def phase(self) -> str | None:
        return self.js("const e = document.getElementById('phase'); return e && e.dataset.phase")

    def face_on_meter(self) -> bool:
        return self.js("return document.getElementById('meter-label').dataset.state") == "face"

    def tap(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By
        self.browser.find_element(By.ID, element_id).click()

    def until(self, condition, what: str, timeout: float = 30) -> None:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            WebDriverWait(self.browser, timeout).until(lambda b: condition())
        except TimeoutException:
            raise RuntimeError(f"waited {timeout:g} s for {what}; screen {self.screen()!r}, error "
                               f"{self.text('#error')!r}; daemon log:\n{self.daemon.log_tail(1500)}") from None

    def shoot(self, stem: str, width: int, height: int | None = None, steady=None, within: float = 0) -> None:
        """A picture of the viewport, named by its size (a whole page by its width only); with `steady`,
        taken again (for up to `within` seconds) until that holds both before and after the picture, since
        the live meter changes many times a second."""
        name = f"{stem}-{width}x{height}.png" if height else f"{stem}-{width}.png"
        deadline = time.monotonic() + within
        while True:
            time.sleep(0.4)  # the meter's and timer's bars ease over 0.2-0.3 s
            held = steady is None or steady()
            png = self.browser.get_screenshot_as_png()
            if steady is None or (held and steady()) or time.monotonic() > deadline:
                break
        data = small_png(png)
        (self.out / name).write_bytes(data)
        self.sizes[name] = len(data)
        print(f"  {name} ({len(data) // 1024} KiB)", flush=True)

    def kiosk(self, width: int, height: int, bank: str, alias: str) -> str:
        """A candidate's walk from the welcome screen to their summary, by its code again; its session id."""
        from selenium.webdriver.common.by import By
        fit(self.browser, width, height)
        self.browser.get(self.daemon.url + "/kiosk")
        self.until(lambda: self.js("return document.readyState") == "complete" and self.screen() == "welcome",
                   "the welcome screen")
        self.shoot("kiosk-welcome", width, height)
        self.tap("begin")
        self.until(lambda: self.screen() == "consent", "the consent screen")
        self.shoot("kiosk-consent", width, height)
        self.tap("agree")
        self.until(lambda: self.screen() == "setup", "the question screen")
        names = self.js("return [...document.querySelectorAll('#banks .bank-name')].map(e => e.textContent)")
        if bank not in names:
            raise RuntimeError(f"no question bank {bank!r} on the kiosk; it offers {names}")
        self.browser.find_element(By.CSS_SELECTOR, f'#banks [data-bank="{names.index(bank)}"]').click()
        self.browser.find_element(By.ID, "alias").send_keys(alias)
        self.js("document.activeElement.blur()")  # no text cursor blinking in the picture
        self.shoot("kiosk-questions", width, height)
        self.tap("start")

        # the meter reads the event stream: wait until it shows the clip's face
        self.until(lambda: self.screen() == "recording" and self.phase() == "prepare" and self.face_on_meter(),
                   "question 1's countdown with a face on the meter", timeout=PREPARE_S + 10)
        self.shoot("kiosk-prepare", width, height, within=PREPARE_S - 1.5,
                   steady=lambda: self.phase() == "prepare" and self.face_on_meter())
        self.until(lambda: self.phase() == "answer", "question 1's answer", timeout=PREPARE_S + 10)
        time.sleep(2)  # a little of the answer's time gone, so its bar shows
        self.shoot("kiosk-answer", width, height, within=ANSWER_S - 4,
                   steady=lambda: self.phase() == "answer" and self.face_on_meter())
        questions = int(self.text("#q-total"))
        self.until(lambda: self.screen() == "summary", "the summary",
                   timeout=questions * (PREPARE_S + ANSWER_S) + 20)
        self.until(lambda: self.js("return document.querySelectorAll('#compare svg rect').length > 0"),
                   "the summary's chart")
        self.shoot("kiosk-summary", width, height)
        self.js("const e = document.querySelector('#general-tips h3') || document.querySelector('#parts .part');"
                "window.scrollTo(0, e.getBoundingClientRect().top + scrollY - 8);")
        self.shoot("kiosk-summary-tips", width, height)
        session_id, code = self.js("return [current.id, current.code]")

        self.tap("done")
        self.until(lambda: self.screen() == "welcome", "the welcome screen after Done")
        self.tap("find")
        self.until(lambda: self.screen() == "lookup", "the code screen")
        for key in code:
            self.browser.find_element(By.CSS_SELECTOR, f'#keypad [data-key="{key}"]').click()
        self.js("document.activeElement.blur()")
        self.shoot("kiosk-code", width, height)
        self.tap("lookup-go")
        self.until(lambda: self.screen() == "summary", "the summary opened by its code")
        return session_id

    def delete(self, width: int, height: int, session_id: str) -> None:
        fit(self.browser, width, height)
        self.browser.get(f"{self.daemon.url}/kiosk?session={session_id}")
        self.until(lambda: self.screen() == "summary", "the summary by its link")
        self.tap("delete")
        self.tap("delete")  # the second tap deletes (the first only asks)
        self.until(lambda: self.screen() == "deleted", "the deleted screen")
        self.shoot("kiosk-deleted", width, height)

    def privacy(self, width: int, height: int) -> None:
        fit(self.browser, width, height)
        self.browser.get(self.daemon.url + "/privacy")
        self.until(lambda: self.js("return document.readyState") == "complete", "the privacy page")
        self.shoot("privacy", width, height)
        # the end only where the first screen does not already show who runs the booth
        if not self.js("const r = document.getElementById('operator').getBoundingClientRect(); "
                       "return r.top >= 0 && r.bottom <= innerHeight"):
            self.js("window.scrollTo(0, document.documentElement.scrollHeight)")
            self.shoot("privacy-end", width, height)

    def dashboard(self, width: int, height: int) -> None:
        fit(self.browser, width, height)
        self.browser.get(self.daemon.url + "/")
        points = ("return Math.min(...['#chart-mix', '#chart-fps', '#chart-latency'].map(c => "
                  "Number(document.querySelector(c).dataset.points || 0)))")
        self.until(lambda: self.text("#faces .face .title") and self.js(points) >= 3
                   and self.text("#sessions tbody tr"), "the dashboard's faces, history and sessions")
        time.sleep(1)  # one more poll of health and monitoring
        self.shoot("dashboard", width, height)

    def whole_dashboard(self, width: int) -> None:
        """The dashboard in a window as tall as the page (its layout depends on the width only)."""
        fit(self.browser, width, 800)
        tall = self.js("return document.documentElement.scrollHeight")
        fit(self.browser, width, tall)
        time.sleep(0.6)  # the charts redraw on resize
        self.shoot("dashboard-whole", width)


def gallery(out: Path, sizes: dict[str, int]) -> str:
    """docs/screenshots/README.md: one line a screen, both sizes side by side."""
    intro = ("Every screen of the kiosk (`/kiosk`), the candidates' privacy page and the operator's dashboard, "
             "taken from the real daemon on the bundled demo clip (`media/demo.mp4`) in headless Chromium by "
             "`make screenshots` (`edge/devtools/screenshots.py`), which rewrites this page too. The kiosk is made "
             "for the Raspberry Pi 7\" touchscreen (800x480) and 1280x800 screens; the face, expressions and "
             "charts are the clip's.")
    lines = ["# Screenshots", "", *textwrap.wrap(intro, 110), "",
             "| screen | " + " | ".join(f"{w}x{h}" for w, h in SIZES) + " |",
             "|---|" + "---|" * len(SIZES)]
    for stem, title, what in SCREENS:
        cells = [next((f"![{title}, {alt}]({name})" for name, alt in ((f"{stem}-{w}x{h}.png", f"{w}x{h}"),
                                                                        (f"{stem}-{w}.png", f"{w} wide"))
                       if name in sizes), "–") for w, h in SIZES]
        lines.append(f"| **{title}**: {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.devtools.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots", help="folder for the PNGs and "
                        "their gallery (default: docs/screenshots)")
    args = parser.parse_args(argv)
    browser = chromium()  # first: a missing browser fails before the daemon starts
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="fer-edge-screenshots-") as workdir:
            # relative to the daemon's working folder (the repository), as the dashboard then names it
            daemon = DaemonProcess(Path(workdir), "media/demo.mp4",
                                   CONFIG + summary_idle_setting(), token=False).start()
            try:
                shooter = Shooter(browser, daemon, args.out)
                sessions = []
                for (width, height), (bank, alias) in zip(SIZES, WALKS):
                    print(f"kiosk at {width}x{height}", flush=True)
                    sessions.append(shooter.kiosk(width, height, bank, alias))
                    shooter.privacy(width, height)
                # the dashboard while both sessions are still there to be listed; erased after
                for width, height in reversed(SIZES):
                    shooter.dashboard(width, height)
                shooter.whole_dashboard(SIZES[-1][0])
                for (width, height), session_id in zip(SIZES, sessions):
                    shooter.delete(width, height, session_id)
            finally:
                daemon.stop()
    finally:
        browser.quit()
    (args.out / "README.md").write_text(gallery(args.out, shooter.sizes))
    print(f"{len(shooter.sizes)} screenshots, {sum(shooter.sizes.values()) // 1024} KiB in all, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
