"""Sessions end to end: the Flask blueprint on a real SQLite file, the recorder fed synthetic frames."""
import csv
import io
import re
import sqlite3

import pytest
from flask import Flask

from edge.sessions.advice import ADVICE_DISCLAIMER, AdviceRules
from edge.sessions.api import sessions_blueprint
from edge.sessions.recorder import SessionRecorder
from edge.sessions.settings import EXPRESSIONS
from edge.sessions.store import SessionStore
from tests.helpers.sessions import START, FakeClock, feed, make_booth


@pytest.fixture
def booth(tmp_path):
    return make_booth(tmp_path)


def test_a_session_through_the_api(booth):
    client, recorder, clock, _ = booth
    r = client.post("/api/sessions", json={"alias": "Sam", "questions": ["Tell me about yourself.", "Why us?"]})
    assert r.status_code == 201
    session = r.get_json()
    sid = session["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", sid) and session["status"] == "recording" and session["alias"] == "Sam"
    assert client.post("/api/sessions", json={}).status_code == 409  # one booth, one candidate

    assert client.post(f"/api/sessions/{sid}/questions", json={"index": 0}).get_json()["question"] == \
        "Tell me about yourself."
    feed(recorder, clock, 6, "happy")
    assert recorder.live()["latest"]["shares"]["happy"] == 1.0 and recorder.live()["question_index"] == 0
    assert client.get("/api/sessions/live").get_json()["session_id"] == sid
    client.post(f"/api/sessions/{sid}/questions", json={"index": 1})
    feed(recorder, clock, 2, "angry")
    feed(recorder, clock, 1, None)
    feed(recorder, clock, 3, "fear")

    r = client.post(f"/api/sessions/{sid}/stop")
    assert r.status_code == 200
    done = r.get_json()
    assert done["status"] == "finished" and done["ended_at"] == START + 12 and done["duration_s"] == 12
    q1, q2 = done["summary"]["segments"]
    assert (q1["index"], q1["duration_s"], q1["shares"]["happy"]) == (0, 6, 1.0)
    assert q2["duration_s"] == 6 and q2["face_present"] == pytest.approx(5 / 6, abs=1e-4)
    assert q2["shares"]["angry"] == 0.4 and q2["shares"]["fear"] == 0.6
    assert q2["changes"]["dominant_changes"] == 1
    assert [d["expression"] for d in q2["dominant"]] == ["fear", "angry"]
    assert done["summary"]["overall"]["duration_s"] == 12 and len(done["summary"]["overall"]["timeline"]) == 12
    assert done["summary"]["missing_s"] == 0  # a frame every second: nothing missing
    # the API passes advise()'s tips through (their wording is tests/test_advice.py's): each names its rule
    assert done["advice"] == AdviceRules().advise(done["summary"]) and done["advice"]
    assert all({"segment", "rule", "figure", "text"} <= set(t) for t in done["advice"])
    assert done["disclaimer"] == ADVICE_DISCLAIMER
    assert client.post(f"/api/sessions/{sid}/stop").status_code == 409  # already stopped
    assert recorder.live()["recording"] is False

    listed = client.get("/api/sessions").get_json()
    assert [s["id"] for s in listed] == [sid]
    assert set(listed[0]) == {"id", "alias", "status", "started_at", "ended_at", "duration_s"}
    assert client.get(f"/api/sessions/{sid}").get_json()["summary"] == done["summary"]

    r = client.get(f"/api/sessions/{sid}/export?format=json")
    assert r.headers["Content-Disposition"] == f'attachment; filename="session-{sid}.json"'
    assert r.get_json()["advice"] == done["advice"]
    r = client.get(f"/api/sessions/{sid}/export?format=csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 12 and list(rows[0]) == ["t", "second", "segment", "face_present", "uncertain", *EXPRESSIONS]
    assert rows[0]["segment"] == "0" and float(rows[0]["happy"]) == 1.0
    assert rows[8]["face_present"] == "0.0" and rows[11]["segment"] == "1" and float(rows[11]["fear"]) == 1.0

    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert client.get(f"/api/sessions/{sid}").status_code == 404
    assert client.delete(f"/api/sessions/{sid}").status_code == 404
    assert client.get("/api/sessions").get_json() == []


def test_a_session_does_not_start_while_the_camera_is_down_and_one_that_lost_it_says_so(tmp_path):
    from edge.sessions.api import NotReady
    clock = FakeClock()
    store = SessionStore(tmp_path / "sessions.db", retention_days=30, clock=clock)
    recorder = SessionRecorder(store, retention_days=30, clock=clock, monotonic=clock)
    problem = ["camera: no frame for 4.0 s (stalled or unplugged)"]

    def ready():
        if problem:
            raise NotReady("The camera is not working right now. Please ask a member of staff for help.", problem[0])
    app = Flask(__name__)
    app.register_blueprint(sessions_blueprint(store, recorder, AdviceRules(), ready))
    client = app.test_client()
    r = client.post("/api/sessions", json={})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json() == {"error": "The camera is not working right now. Please ask a member of staff for help.",
                            "staff": problem[0]}
    assert recorder.live()["recording"] is False and store.list(10) == []  # nothing recorded, nothing stored
    problem.clear()
    sid = client.post("/api/sessions", json={}).get_json()["id"]
    feed(recorder, clock, 4, "happy")
    clock.t += 6  # the camera stops midway: six seconds without a processed frame
    feed(recorder, clock, 2, "happy")
    done = client.post(f"/api/sessions/{sid}/stop").get_json()
    assert done["summary"]["overall"]["duration_s"] == 6 and done["summary"]["missing_s"] == 6
    store.close()


def test_questions_without_a_list_are_numbered(booth):
    client, recorder, clock, _ = booth
    sid = client.post("/api/sessions").get_json()["id"]  # no body at all
    assert client.post(f"/api/sessions/{sid}/questions", json={"index": 4}).get_json()["question"] == "Question 5"


def test_erasing_a_recording_session_stops_it_and_keeps_nothing(booth):
    client, recorder, clock, store = booth
    sid = client.post("/api/sessions", json={"alias": "Kim"}).get_json()["id"]
    feed(recorder, clock, 3, "happy")
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    feed(recorder, clock, 2, "happy")  # frames keep coming; nothing may be written for the erased session
    assert recorder.live()["recording"] is False and recorder.recording_error is None
    assert store.get(sid) is None and store.timeline(sid) == []
    assert client.post("/api/sessions").status_code == 201  # the booth is free again


@pytest.mark.parametrize("body, content_type, status, message", [
    ("{", "application/json", 400, "not valid JSON"),
    ("[]", "application/json", 400, "must be a JSON object"),
    ('{"alias": 5}', "application/json", 400, "alias: Input should be a valid string"),
    ('{"alias": "' + "x" * 65 + '"}', "application/json", 400, "alias: String should have at most 64"),
    ('{"nickname": "x"}', "application/json", 400, "unknown field 'nickname'"),
    ('{"questions": "why?"}', "application/json", 400, "questions: Input should be a valid list"),
    ('{"questions": [' + ",".join(['"q"'] * 51) + "]}", "application/json", 400,
     "questions: List should have at most 50"),
    ('{"questions": ["' + "q" * 301 + '"]}', "application/json", 400, "questions.0: String should have at most 300"),
    ('{"alias": "x"}', "text/plain", 415, "Content-Type: application/json"),
])
def test_malformed_start_requests(booth, body, content_type, status, message):
    client = booth[0]
    r = client.post("/api/sessions", data=body, content_type=content_type)
    assert r.status_code == status and message in r.get_json()["error"]
    assert booth[1].live()["recording"] is False


@pytest.mark.parametrize("body, message", [
    ({"index": "1"}, "index: Input should be a valid integer"),
    ({"index": True}, "index: Input should be a valid integer"),
    ({"index": -1}, "index: Input should be greater than or equal to 0"),
    ({}, "index: Field required"),
    ({"index": 2}, "outside the 2 questions"),
])
def test_malformed_question_marks(booth, body, message):
    client = booth[0]
    sid = client.post("/api/sessions", json={"questions": ["a", "b"]}).get_json()["id"]
    r = client.post(f"/api/sessions/{sid}/questions", json=body)
    assert r.status_code == 400 and message in r.get_json()["error"]


def test_bad_queries_and_unknown_ids(booth):
    client = booth[0]
    for limit in ("abc", "0", "201", "-1"):
        r = client.get(f"/api/sessions?limit={limit}")
        assert r.status_code == 400 and "limit must be an integer from 1 to 200" in r.get_json()["error"]
    for path in ("/api/sessions/nope", "/api/sessions/nope/export", "/api/sessions/nope/stop"):
        r = client.post(path) if path.endswith("stop") else client.get(path)
        assert r.status_code == 404 and r.get_json() == {"error": "no session with id 'nope'"}
    sid = client.post("/api/sessions").get_json()["id"]
    r = client.get(f"/api/sessions/{sid}/export?format=xml")
    assert r.status_code == 400 and "format must be json or csv" in r.get_json()["error"]
    assert len(client.get("/api/sessions?limit=1").get_json()) == 1


def test_a_full_disk_is_reported_not_raised(booth, monkeypatch):
    client, recorder, clock, store = booth
    sid = client.post("/api/sessions").get_json()["id"]
    feed(recorder, clock, 2, "happy")

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "add_second", full)
    feed(recorder, clock, 3, "happy")  # must not raise into the inference loop
    assert "database or disk is full" in recorder.recording_error
    assert client.get("/api/sessions/live").get_json()["recording_error"] == recorder.recording_error
    monkeypatch.undo()
    done = client.post(f"/api/sessions/{sid}/stop").get_json()
    assert done["summary"]["overall"]["duration_s"] == 2  # the two seconds stored before the disk filled
    assert "database or disk is full" in done["recording_error"]


def test_retention_runs_daily_from_the_inference_loop(booth, monkeypatch):
    _, recorder, clock, store = booth
    calls = []
    monkeypatch.setattr(store, "apply_retention", lambda days: calls.append(days) or 0)
    feed(recorder, clock, 1, None)
    assert calls == []  # the store applied it at open
    clock.t += 86400
    feed(recorder, clock, 1, None)
    feed(recorder, clock, 1, None)
    assert calls == [30]



def test_the_candidates_privacy_page_is_plain_html_with_the_operators_details():
    from edge.sessions.settings import SessionSettings
    from edge.state import LiveState
    from edge.web.app import create_app
    unset = create_app(LiveState()).test_client().get("/privacy")
    page = unset.get_data(as_text=True)
    assert unset.status_code == 200 and unset.content_type.startswith("text/html")
    assert "No picture, video or sound of you is recorded or sent anywhere" in page
    assert "ask a member of staff who runs this booth" in page and "30 days" in page and "[" not in page
    notice = SessionSettings(retention_days=7, operator_name="Career Centre <Ltd>", operator_contact="desk 3")
    page = create_app(LiveState(), notice=notice).test_client().get("/privacy").get_data(as_text=True)
    assert "<strong>Career Centre &lt;Ltd&gt;</strong>: desk 3" in page and "7 days" in page  # escaped
    operator = create_app(LiveState()).test_client().get("/privacy/operator")
    assert operator.content_type == "text/plain; charset=utf-8" and "# Privacy notes for booth operators" in \
        operator.get_data(as_text=True)
