"""The dashboard in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium):
it loads without console errors and its live values change."""
import time

import pytest

from tests.helpers.daemon import Daemon

pytestmark = pytest.mark.slow  # Chromium: make test runs it, make test-fast does not


def test_dashboard_updates_live_without_console_errors(shared_data, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait


    daemon = Daemon(tmp_path, shared_data / "media/videos/pyfeat_single_face_talking.mp4")
    try:
        browser.get(daemon.url + "/")
        wait = WebDriverWait(browser, 20)
        # the page re-renders on every event, so read text in one script call, not through element handles
        text = lambda css: browser.execute_script(  # noqa: E731
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)
        wait.until(lambda b: text("#health") == "ok")
        wait.until(lambda b: text("#faces .face .title"))
        first = text("#counters")
        time.sleep(1.5)
        assert text("#counters") != first  # live values change
        title = text("#faces .face .title")
        assert title.startswith("face ") and "%" in title
        assert "No camera image is shown" in browser.find_element(By.TAG_NAME, "footer").text
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        daemon.stop()
