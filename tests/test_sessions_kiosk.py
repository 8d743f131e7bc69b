"""What the kiosk's flow needs from the sessions back end: preparation time that is never recorded, codes for
finished summaries (migration, lookup, throttle), question banks and timers in the config, and the kiosk page
that carries them."""
import json
import re
import sqlite3

import pytest

from edge.config import ConfigError, load_config
from edge.pipeline import FrameResult
from edge.sessions.api import kiosk_setup
from edge.sessions.settings import DEFAULT_BANKS, QuestionBank, SessionSettings
from edge.sessions.store import CODE_ALPHABET, CODE_LENGTH, MIGRATIONS, SessionStore, normalize_code
from tests.helpers.sessions import START, FakeClock, face, feed, make_booth

CODE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


@pytest.fixture
def booth(tmp_path):
    return make_booth(tmp_path, lookup_limit=3)


def finished_session(client, recorder, clock, questions=("Why?",)) -> dict:
    sid = client.post("/api/sessions", json={"questions": list(questions)}).get_json()["id"]
    client.post(f"/api/sessions/{sid}/questions", json={"index": 0})
    feed(recorder, clock, 3, "happy")
    return client.post(f"/api/sessions/{sid}/stop").get_json()


# ---- preparation: shown, never recorded ---------------------------------------------------------------

def test_preparation_time_is_in_no_segment_and_not_missing(booth):
    client, recorder, clock, store = booth
    sid = client.post("/api/sessions", json={"questions": ["One?", "Two?"], "prepare": True}).get_json()["id"]
    feed(recorder, clock, 2, "angry")  # before any question: not recorded either
    r = client.post(f"/api/sessions/{sid}/questions", json={"index": 0, "phase": "prepare"})
    assert r.status_code == 200 and r.get_json()["phase"] == "prepare"
    live = client.get("/api/sessions/live").get_json()
    assert (live["phase"], live["question_index"], live["phase_elapsed_s"]) == ("prepare", 0, 0.0)
    feed(recorder, clock, 3, "angry")
    assert store.timeline(sid) == [] and store.get(sid)["segments"] == []
    client.post(f"/api/sessions/{sid}/questions", json={"index": 0})
    feed(recorder, clock, 3, "happy")
    assert client.get("/api/sessions/live").get_json()["phase_elapsed_s"] == 3.0
    client.post(f"/api/sessions/{sid}/questions", json={"index": 1, "phase": "prepare"})
    feed(recorder, clock, 4, "fear")
    assert client.get("/api/sessions/live").get_json()["question_index"] == 1
    client.post(f"/api/sessions/{sid}/questions", json={"index": 1, "phase": "answer"})
    feed(recorder, clock, 2, "sad")
    done = client.post(f"/api/sessions/{sid}/stop").get_json()
    summary = done["summary"]
    assert [(s["index"], s["duration_s"]) for s in summary["segments"]] == [(0, 3), (1, 2)]
    assert summary["overall"]["duration_s"] == 5 and summary["overall"]["shares"]["angry"] == 0.0
    assert summary["overall"]["shares"]["fear"] == 0.0  # the countdown's faces count nowhere
    assert all(second["segment"] is not None for second in summary["overall"]["timeline"])
    assert done["duration_s"] == 14 and summary["missing_s"] == 0  # 9 s of preparation are not missing


def test_an_answer_right_after_its_preparation_began_stores_each_second_once(booth):
    client, recorder, clock, store = booth
    sid = client.post("/api/sessions", json={"questions": ["One?", "Two?"], "prepare": True}).get_json()["id"]
    client.post(f"/api/sessions/{sid}/questions", json={"index": 0})
    feed(recorder, clock, 2, "happy")
    recorder.observe(FrameResult(0, START + 2.25, 640, 480, [face("happy")], 1))  # opens second START + 2
    # question 2's countdown and answer within that wall-clock second (the candidate taps "I'm ready")
    client.post(f"/api/sessions/{sid}/questions", json={"index": 1, "phase": "prepare"})
    client.post(f"/api/sessions/{sid}/questions", json={"index": 1})
    clock.t = START + 2.5
    recorder.observe(FrameResult(0, clock.t, 640, 480, [face("sad")], 1))  # that second is stored already
    clock.t = START + 3
    feed(recorder, clock, 2, "sad")
    assert recorder.recording_error is None  # no second written twice (its primary key)
    done = client.post(f"/api/sessions/{sid}/stop").get_json()
    seconds = [r["second"] for r in store.timeline(sid)]
    assert seconds == [int(START) + i for i in range(5)]
    assert [s["duration_s"] for s in done["summary"]["segments"]] == [3, 2]
    assert done["summary"]["segments"][0]["shares"]["sad"] == 0.0


def test_a_bad_phase_is_refused(booth):
    client = booth[0]
    sid = client.post("/api/sessions", json={"questions": ["a"], "prepare": True}).get_json()["id"]
    r = client.post(f"/api/sessions/{sid}/questions", json={"index": 0, "phase": "think"})
    assert r.status_code == 400 and "phase: Input should be 'answer' or 'prepare'" in r.get_json()["error"]
    r = client.post("/api/sessions", json={"prepare": "yes"})
    assert r.status_code == 400 and "prepare: Input should be a valid boolean" in r.get_json()["error"]


# ---- codes ---------------------------------------------------------------------------------------------

def test_a_finished_session_gets_a_code_that_opens_it_until_retention(booth):
    client, recorder, clock, store = booth
    sid = client.post("/api/sessions", json={"questions": ["Why?"]}).get_json()["id"]
    recording = client.get(f"/api/sessions/{sid}").get_json()
    assert recording["code"] is None and recording["kept_until"] is None  # none while recording
    client.post(f"/api/sessions/{sid}/questions", json={"index": 0})
    feed(recorder, clock, 3, "happy")
    done = client.post(f"/api/sessions/{sid}/stop").get_json()
    code = done["code"]
    assert CODE.match(code) and done["kept_until"] == done["ended_at"] + 30 * 86400
    assert not set(code) & set("01ILOUV")
    for typed in (code, code.lower(), f"{code[:4]}-{code[4:]}", f" {code[:4]} {code[4:]} "):
        r = client.post("/api/sessions/lookup", json={"code": typed})
        assert r.status_code == 200 and r.get_json()["id"] == sid and r.get_json()["summary"] == done["summary"]
    assert "code" not in client.get("/api/sessions").get_json()[0]  # never listed
    assert client.get("/api/sessions/lookup").status_code == 405  # not a session called "lookup"
    store.finish(sid, done["summary"], done["ended_at"])  # finishing again keeps the code
    assert store.get(sid)["code"] == code
    client.delete(f"/api/sessions/{sid}")
    assert client.post("/api/sessions/lookup", json={"code": code}).status_code == 404


def test_codes_are_unique_and_go_with_retention(booth):
    client, recorder, clock, store = booth
    codes = {finished_session(client, recorder, clock)["code"] for _ in range(5)}
    assert len(codes) == 5
    clock.t += 31 * 86400
    assert store.apply_retention(30) == 5
    assert all(store.find_code(c) is None for c in codes)


@pytest.mark.parametrize("typed, normal", [
    ("abcd-efgh", "ABCDEFGH"), ("ABCD EFGH", "ABCDEFGH"), ("2345 6789", "23456789"),
    ("ABCD-EFG", None), ("ABCD-EFGHJ", None), ("ABCD-EFG0", None), ("OOOO-IIII", None), ("", None),
    ("ÄBCD-EFGH", None),
])
def test_normalize_code(typed, normal):
    assert normalize_code(typed) == normal


def test_failed_lookups_are_throttled_per_client(booth, caplog):
    client, recorder, clock, _ = booth
    code = finished_session(client, recorder, clock)["code"]
    wrong = "2222-2222" if code != "22222222" else "3333-3333"
    for _ in range(3):
        r = client.post("/api/sessions/lookup", json={"code": wrong})
        assert r.status_code == 404 and "no summary has this code" in r.get_json()["error"]
    assert "3 wrong summary codes from 127.0.0.1 within 60 s: its code lookups get 429" in caplog.text
    r = client.post("/api/sessions/lookup", json={"code": code})  # even the right one, unchecked
    assert r.status_code == 429 and r.headers["Retry-After"] == "60" and "wait 60 s" in r.get_json()["error"]
    other = client.post("/api/sessions/lookup", json={"code": code}, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200  # another client is not locked out
    clock.t += 61
    assert client.post("/api/sessions/lookup", json={"code": code}).status_code == 200


@pytest.mark.parametrize("body, status, message", [
    ({"code": "ABCD-EFG0"}, 400, "a code is 8 letters and digits"),
    ({"code": "x" * 21}, 400, "code: String should have at most 20"),
    ({}, 400, "code: Field required"),
    ({"code": 12345678}, 400, "code: Input should be a valid string"),
])
def test_malformed_lookups_are_not_counted(booth, body, status, message):
    client = booth[0]
    for _ in range(4):  # above the fixture's limit of 3: a typo is not a guess
        r = client.post("/api/sessions/lookup", json=body)
        assert r.status_code == status and message in r.get_json()["error"]


def test_the_code_migration_keeps_older_sessions(tmp_path):
    path = tmp_path / "sessions.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for sql in MIGRATIONS[0]:
        db.execute(sql)
    db.execute("INSERT INTO schema_version (version) VALUES (1)")
    db.execute("INSERT INTO sessions (id, alias, questions, status, started_at, ended_at, summary) VALUES "
               "('old', NULL, '[]', 'finished', ?, ?, '{}')", (START, START + 5))
    db.commit()
    db.close()
    store = SessionStore(path, retention_days=30, clock=FakeClock(START + 10))
    try:
        assert store.applied_migrations == [2] and store.schema_version == len(MIGRATIONS) == 2
        old = store.get("old")
        assert old["code"] is None and old["status"] == "finished"  # no code: it finished before codes
        new = store.create(None, ["q"], START + 6)
        store.finish(new["id"], {}, START + 9)
        assert CODE.match(store.get(new["id"])["code"]) and store.find_code(store.get(new["id"])["code"]) == new["id"]
        with pytest.raises(sqlite3.IntegrityError):  # the index keeps codes unique
            store._write(("UPDATE sessions SET code = ? WHERE id = 'old'", (store.get(new["id"])["code"],)))
    finally:
        store.close()
    assert SessionStore(path).applied_migrations == []  # applied once


# ---- banks and timers in the config ------------------------------------------------------------------

def write(tmp_path, text):
    p = tmp_path / "edge.toml"
    p.write_text(text)
    return p


def test_the_default_banks_and_timers():
    s = SessionSettings()
    assert [b.name for b in s.question_banks] == ["General", "Behavioural", "Technical"]
    assert all(3 <= len(b.questions) <= 5 for b in DEFAULT_BANKS)
    assert (s.prepare_s, s.answer_s, s.own_questions, s.summary_idle_s) == (10, 90, True, 120)


def test_banks_and_timers_load_from_toml(tmp_path):
    cfg = load_config(write(tmp_path, '[sessions]\nprepare_s = 0\nanswer_s = 120\nown_questions = false\n'
                                      'summary_idle_s = 0\n'
                                      '[[sessions.question_banks]]\nname = " Sales "\n'
                                      'questions = ["Sell me this pen. ", "Why sales?"]\n'), {})
    assert cfg.sessions.question_banks == (QuestionBank(name="Sales", questions=("Sell me this pen.", "Why sales?")),)
    assert (cfg.sessions.prepare_s, cfg.sessions.answer_s, cfg.sessions.own_questions) == (0, 120, False)
    assert cfg.sessions.summary_idle_s == 0  # never
    assert load_config(write(tmp_path, "[sessions]\nsummary_idle_s = 10\n"), {}).sessions.summary_idle_s == 10


@pytest.mark.parametrize("toml, message", [
    ("prepare_s = -1", r"sessions\.prepare_s: Input should be greater than or equal to 0 \(got -1\)"),
    ("answer_s = 4000", r"sessions\.answer_s: Input should be less than or equal to 3600 \(got 4000\)"),
    ('answer_s = "long"', r"sessions\.answer_s: Input should be a valid integer"),
    ("summary_idle_s = 9", (r"sessions\.summary_idle_s: 9 s would cut off a candidate still reading: 0 \(never\) "
                            r"or at least 10 s \(got 9\)")),
    ("summary_idle_s = -1", r"sessions\.summary_idle_s: Input should be greater than or equal to 0 \(got -1\)"),
    ("summary_idle_s = 3601", r"sessions\.summary_idle_s: Input should be less than or equal to 3600 \(got 3601\)"),
    ("summary_idle_s = 60.5", r"sessions\.summary_idle_s: Input should be a valid integer"),
    ("question_banks = []\nown_questions = false",
     r"sessions: question_banks is empty and own_questions is false: the kiosk would have no questions"),
    ('[[sessions.question_banks]]\nname = "A"\nquestions = []',
     r"sessions\.question_banks\.0\.questions: Tuple should have at least 1 item"),
    ('[[sessions.question_banks]]\nname = "A"\nquestions = ["Why?", "  "]',
     r"sessions\.question_banks\.0\.questions: question 2 is empty"),
    ('[[sessions.question_banks]]\nname = "A"\nquestions = ["' + "x" * 301 + '"]',
     r"question 1 is 301 characters long; at most 300"),
    ('[[sessions.question_banks]]\nname = " "\nquestions = ["Why?"]',
     r"sessions\.question_banks\.0\.name: a bank's name must contain more than white space"),
    ('[[sessions.question_banks]]\nname = "A"\nquestions = ["Why?"]\n'
     '[[sessions.question_banks]]\nname = "a"\nquestions = ["How?"]',
     r"sessions\.question_banks: two banks are named 'a'"),
    ('[[sessions.question_banks]]\nname = "A"\nquestion = ["Why?"]',
     r"sessions\.question_banks\.0\.question: Extra inputs are not permitted"),
])
def test_bad_banks_and_timers_say_what_is_wrong(tmp_path, toml, message):
    section = toml if toml.startswith("[[") else f"[sessions]\n{toml}"
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, section + "\n"), {})


def test_the_kiosk_page_carries_the_banks_and_timers_as_inert_json():
    from edge.state import LiveState
    from edge.web.app import create_app
    settings = SessionSettings(prepare_s=3, answer_s=0, summary_idle_s=45, retention_days=7, question_banks=(
        QuestionBank(name="Odd", questions=("Is </script><script>alert(1)</script> a question?",)),))
    page = create_app(LiveState(), notice=settings).test_client().get("/kiosk").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="kiosk-setup">(.*?)</script>', page, re.S)
    assert found and "<script>alert" not in found.group(1)  # escaped: the text cannot close the element
    setup = json.loads(found.group(1))
    assert setup == kiosk_setup(settings) and setup["prepare_s"] == 3 and setup["answer_s"] == 0
    assert setup["summary_idle_s"] == 45
    assert setup["banks"] == [{"name": "Odd", "questions": ["Is </script><script>alert(1)</script> a question?"]}]
    assert '<span id="retention-days">7</span> days' in page


@pytest.mark.parametrize("idle_s, words", [(120, "for 2 minutes"), (60, "for 1 minute,"), (45, "for 45 seconds"),
                                           (0, None)])
def test_the_privacy_page_says_how_to_see_and_erase_a_summary_after_leaving(idle_s, words):
    from edge.state import LiveState
    from edge.web.app import create_app
    settings = SessionSettings(retention_days=7, summary_idle_s=idle_s)
    page = " ".join(create_app(LiveState(), notice=settings).test_client().get("/privacy").get_data(as_text=True)
                    .split())
    assert "see your summary again with that code for <strong>7 days</strong>" in page
    assert "<strong>See my summary again</strong> on the start screen" in page
    assert "open your summary at the booth with its code, then press Delete" in page
    assert "its code stops working" in page and "Until 3 minutes after you last touched your summary" in page
    idle = re.search(r'<p id="idle">(.*?)</p>', page)
    assert (idle and words in idle.group(1)) if words else idle is None
