"""The monitor inside the real daemon (python -m edge run, waitress): a darkened copy of the bundled
demo clip raises a brightness alert in /api/monitoring, in /metrics and on the dashboard (headless
Chromium)."""
import json
import time

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.helpers.daemon import Daemon, get

pytestmark = pytest.mark.slow  # daemon processes: make test runs it, make test-fast does not

DEMO = ROOT / "media/demo.mp4"


@pytest.fixture(scope="module")
def dark_clip(tmp_path_factory):
    """The demo clip's first 10 s at 30 % of its light, as MJPG (decodes everywhere OpenCV does)."""
    path = tmp_path_factory.mktemp("clips") / "dark.avi"
    cap = cv2.VideoCapture(str(DEMO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    for _ in range(int(10 * fps)):
        ok, frame = cap.read()
        assert ok, f"{DEMO}: cannot decode the demo clip"
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frame.shape[1::-1])
        writer.write((frame * 0.3).astype(np.uint8))
    writer.release()
    cap.release()
    return path


def wait_for(daemon, condition, timeout=40):
    deadline, body = time.time() + timeout, None
    while time.time() < deadline:
        code, raw, _ = get(daemon.url + "/api/monitoring")
        body = json.loads(raw)
        if code == 200 and condition(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"monitoring never met the condition; last answer: {body}")


def test_daemon_reports_a_dark_scene_in_api_and_metrics(tmp_path, dark_clip):
    daemon = Daemon(tmp_path, dark_clip)
    try:
        # 30 measured faces (5 a second) are needed before brightness is judged
        body = wait_for(daemon, lambda b: b["metrics"]["brightness"]["state"] == "alert")
        m = body["metrics"]
        assert body["state"] == "alert" and body["reference"]["model"] == "fer_student_int8"
        assert m["brightness"]["value"] < 40 and m["brightness"]["reference"] > 100
        assert m["no_face_share"]["state"] == "ok" and m["sharpness"]["state"] == "ok"
        assert m["fps"]["value"] > 10  # the clip plays at its own 24 fps
        assert any("too dark" in r for r in body["reasons"])
        # the crops those figures came from stay inside the daemon: the status API shows a face's figures only
        deadline = time.time() + 10
        while not (faces := daemon.status()["latest"]["faces"]) and time.time() < deadline:
            time.sleep(0.2)
        assert faces and all(set(f) == {"id", "box", "detector_score", "label", "confidence", "probabilities"} for f in faces)
        _, text, _ = get(daemon.url + "/metrics")
        text = text.decode()
        assert 'fer_edge_monitoring_metric_state{group="quality",metric="brightness"} 2.0' in text
        assert "fer_edge_monitoring_state 2.0" in text
        assert 'fer_edge_monitoring_value{group="health",metric="fps"}' in text
    finally:
        assert daemon.stop() == 0


def test_dashboard_panel_shows_the_alert(tmp_path, dark_clip, browser):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait

    daemon = Daemon(tmp_path, dark_clip)
    try:
        browser.get(daemon.url + "/")
        def text(css):  # the panel re-renders every 2 s: read in one script call, not through element handles
            return browser.execute_script(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)
        WebDriverWait(browser, 40).until(lambda b: text('#monitoring tr[data-metric="brightness"] td.state') == "alert")
        assert text("#monitoring-state") == "alert"
        assert "too dark" in text("#monitoring-reasons")
        assert text('#monitoring tr[data-metric="sharpness"] td.state') == "ok"
        assert "Training reference: emotion/fer_student_reference.json" in text("#monitoring-reference")
        assert "Input quality · last 30 s" in text("#monitoring")
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        daemon.stop()
