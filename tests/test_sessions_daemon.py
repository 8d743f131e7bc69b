"""Kiosk sessions through the real daemon (waitress, SQLite file, the shared talking-face video as the
camera): summaries that add up, and crash safety under SIGKILL."""
import json
import signal
import time
import urllib.request

import pytest

from tests.helpers.daemon import Daemon, get

pytestmark = pytest.mark.slow  # daemon processes: make test runs it, make test-fast does not

VIDEO = "media/videos/pyfeat_single_face_talking.mp4"


def call(daemon, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(daemon.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **daemon.csrf})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read() or b"null")


def wait_for_results(daemon):
    deadline = time.time() + 20
    while time.time() < deadline and daemon.status()["counters"]["processed"] < 10:
        time.sleep(0.2)


def test_session_with_two_questions_gives_a_summary_that_adds_up(shared_data, tmp_path):
    daemon = Daemon(tmp_path, shared_data / VIDEO)
    try:
        wait_for_results(daemon)
        session = call(daemon, "POST", "/api/sessions", {"alias": "test", "questions": ["Who?", "Why?"]})
        call(daemon, "POST", f"/api/sessions/{session['id']}/questions", {"index": 0})
        time.sleep(2.5)
        call(daemon, "POST", f"/api/sessions/{session['id']}/questions", {"index": 1})
        time.sleep(2.5)
        call(daemon, "POST", f"/api/sessions/{session['id']}/stop")
        detail = call(daemon, "GET", f"/api/sessions/{session['id']}")
    finally:
        daemon.stop()
    summary = detail["summary"]
    assert detail["status"] == "finished" and [s["index"] for s in summary["segments"]] == [0, 1]
    overall = summary["overall"]
    assert overall["face_present"] > 0.8  # the man is in view all the time
    assert sum(overall["shares"].values()) == pytest.approx(1.0, abs=0.01)
    for segment in summary["segments"]:
        assert segment["duration_s"] >= 2 and sum(segment["shares"].values()) == pytest.approx(1.0, abs=0.01)
    # one timeline row per second, covering the whole session
    assert len(overall["timeline"]) == overall["duration_s"] >= 5
    assert [r["t"] for r in overall["timeline"]] == list(range(overall["duration_s"]))


def test_sigkill_loses_no_finished_session_and_leaves_the_interrupted_one_recoverable(shared_data, tmp_path):
    daemon = Daemon(tmp_path, shared_data / VIDEO)
    wait_for_results(daemon)
    done = call(daemon, "POST", "/api/sessions", {"alias": "done"})
    time.sleep(2.2)
    call(daemon, "POST", f"/api/sessions/{done['id']}/stop")
    before = call(daemon, "GET", f"/api/sessions/{done['id']}")
    interrupted = call(daemon, "POST", "/api/sessions", {"alias": "cut"})
    time.sleep(2.5)
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(timeout=10)

    daemon = Daemon(tmp_path, shared_data / VIDEO)  # same config, same SQLite file
    try:
        after = call(daemon, "GET", f"/api/sessions/{done['id']}")
        recovered = call(daemon, "GET", f"/api/sessions/{interrupted['id']}")
        listed = {s["id"]: s["status"] for s in call(daemon, "GET", "/api/sessions")}
        assert get(daemon.url + "/api/health")[0] == 200
    finally:
        daemon.stop()
    assert after["status"] == "finished" and after["summary"] == before["summary"]
    assert recovered["status"] == "recovered" and recovered["summary"]["overall"]["duration_s"] >= 1
    assert listed == {done["id"]: "finished", interrupted["id"]: "recovered"}
