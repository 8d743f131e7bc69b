import pytest

"""With a token, in real headless Chromium: the kiosk sends a stranger to the login page, the login cookie
then carries the kiosk through a whole session (CSRF header included), and a page of another origin cannot
start one."""
from edge.web.security import AccessPolicy
from tests.conftest import severe
from tests.helpers.served import TOKEN, Served

pytestmark = pytest.mark.slow  # Chromium: make test runs it, make test-fast does not


def test_kiosk_behind_a_login_with_a_token(tmp_path, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    served = Served(tmp_path, AccessPolicy(TOKEN))
    base = f"http://{served.host}"
    try:
        wait = WebDriverWait(browser, 20)
        js = lambda script, *args: browser.execute_script(script, *args)  # noqa: E731
        visible = lambda css: js("const e = document.querySelector(arguments[0]); "  # noqa: E731
                                 "return e && !e.closest('[hidden]') ? e.textContent : null;", css)

        browser.get(base + "/kiosk")
        wait.until(lambda b: b.current_url == base + "/login?next=/kiosk")
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.ID, "login").click()
        wait.until(lambda b: visible("#login-error") == "That is not this device's token.")
        assert browser.get_cookies() == []
        assert [e for e in severe(browser) if "401" not in e["message"]] == []  # the refusal, and only it
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "login").click()
        wait.until(lambda b: b.current_url == base + "/kiosk")
        cookie = browser.get_cookies()[0]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        assert js("return document.cookie") == ""  # out of reach of scripts

        browser.find_element(By.ID, "begin").click()
        browser.find_element(By.ID, "agree").click()  # the consent screen
        browser.find_element(By.ID, "alias").send_keys("Ada")
        browser.find_element(By.ID, "start").click()
        wait.until(lambda b: visible("#question") == "Tell me about yourself.")
        session_id = served.recorder.live()["session_id"]
        assert session_id and served.recorder.live()["question_index"] == 0
        browser.find_element(By.ID, "ready").click()  # no need to wait out the preparation countdown
        wait.until(lambda b: served.recorder.live()["phase"] == "answer")
        browser.find_element(By.ID, "next").click()
        wait.until(lambda b: visible("#question") == "Why do you want this job?")
        browser.find_element(By.ID, "stop").click()
        wait.until(lambda b: visible("#summary-title") == "Ada's practice session")
        assert severe(browser) == []
        browser.find_element(By.ID, "delete").click()
        browser.find_element(By.ID, "delete").click()
        wait.until(lambda b: visible("#deleted") is not None)  # it confirms with a GET that must 404
        assert served.store.get(session_id) is None

        # a page of another origin (here: the same server under another name, so another origin) cannot
        # start a session even though the browser holds the login cookie for this one
        browser.get(f"http://localhost:{served.port}/privacy")
        status = js("return fetch(arguments[0] + '/api/sessions', {method: 'POST', mode: 'no-cors', "
                    "credentials: 'include'}).then(() => 'sent', () => 'blocked');", base)
        assert status in ("sent", "blocked") and served.recorder.live()["recording"] is False
    finally:
        served.close()
