"""The interview-practice kiosk in real headless Chromium against the real daemon: start a session,
answer two questions, stop, read the summary, see it on the dashboard, delete it."""
import json
import time

import pytest

from tests.conftest import severe
from tests.helpers.daemon import Daemon, get

pytestmark = pytest.mark.slow  # Chromium: make test runs it, make test-fast does not


def test_kiosk_session_from_start_to_deletion(shared_data, tmp_path, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    daemon = Daemon(tmp_path, shared_data / "media/videos/pyfeat_single_face_talking.mp4")
    try:
        wait = WebDriverWait(browser, 20)
        # the meter re-renders on every event: read state in one script call, not through element handles
        js = lambda script, *args: browser.execute_script(script, *args)  # noqa: E731
        text = lambda css: js("const e = document.querySelector(arguments[0]); "  # noqa: E731
                              "return e && !e.closest('[hidden]') ? e.textContent : null;", css)

        code, body, headers = get(daemon.url + "/privacy/operator")  # the operator's own document
        assert code == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "What the model can and cannot tell" in body.decode()

        browser.get(daemon.url + "/kiosk")
        wait.until(lambda b: js("return document.readyState") == "complete")
        assert "cannot tell what you feel" in text("#setup .about")
        assert browser.find_element(By.CSS_SELECTOR, 'a[href="/privacy"]')
        assert severe(browser) == []

        browser.find_element(By.ID, "alias").send_keys("Kim")
        questions = browser.find_element(By.ID, "questions")
        questions.clear()
        questions.send_keys("Tell me about yourself.\nWhy this job?")
        browser.find_element(By.ID, "start").click()

        wait.until(lambda b: text("#question") == "Tell me about yourself.")
        wait.until(lambda b: js("return document.getElementById('meter-label').dataset.state") in ("face", "uncertain"))
        live = json.loads(get(daemon.url + "/api/sessions/live")[1])
        assert live["recording"] and live["question_index"] == 0
        session_id = live["session_id"]
        time.sleep(2.5)  # a second belongs to the question current when it began: give question 1 a full one

        browser.find_element(By.ID, "next").click()
        wait.until(lambda b: text("#question") == "Why this job?")
        assert not browser.find_element(By.ID, "next").is_displayed()  # last question: only Stop is left
        time.sleep(3)
        browser.find_element(By.ID, "stop").click()

        wait.until(lambda b: text("#summary") is not None)
        parts = js("return [...document.querySelectorAll('#parts .part')].map(p => ["
                   "p.querySelector('h3').textContent, p.querySelectorAll('svg.timeline').length, "
                   "p.querySelectorAll('svg.timeline rect').length])")
        assert [p[:2] for p in parts] == [["Question 1", 1], ["Question 2", 1]]
        assert all(p[2] > 1 for p in parts), parts  # background plus at least one recorded second
        assert "not a score" in text("#disclaimer")
        assert text("#summary-title") == "Kim's practice session"
        assert js("return document.getElementById('export-csv').getAttribute('href')") == \
            f"/api/sessions/{session_id}/export?format=csv"
        assert severe(browser) == []

        # the operator's dashboard lists it (fetched on load, then every 10 s)
        kiosk_tab = browser.current_window_handle
        browser.switch_to.new_window("tab")
        browser.get(daemon.url + "/")
        wait.until(lambda b: "Kim" in (text("#sessions tbody") or ""))
        assert "finished" in text("#sessions tbody")
        assert severe(browser) == []
        browser.close()
        browser.switch_to.window(kiosk_tab)

        browser.find_element(By.ID, "delete").click()
        assert text("#delete") == "Tap again to delete for good"
        browser.find_element(By.ID, "delete").click()
        wait.until(lambda b: text("#deleted") is not None)
        assert get(daemon.url + f"/api/sessions/{session_id}")[0] == 404
    finally:
        daemon.stop()
