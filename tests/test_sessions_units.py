"""Sessions piece by piece: per-second aggregation, summaries, the SQLite store (advice: tests/test_advice.py)."""
import pytest
from pydantic import ValidationError

from edge.pipeline import FaceResult
from edge.sessions.aggregate import SecondAccumulator, summarize
from edge.sessions.settings import EXPRESSIONS, SessionSettings
from edge.sessions.store import MIGRATIONS, SessionStore

FPS = 8
DAY = 86400.0


def face(label: str, probs: dict[str, float] | None = None, confidence: float = 1.0) -> FaceResult:
    if probs is None:
        probs = dict.fromkeys(EXPRESSIONS, 0.0)
        if label != "uncertain":
            probs[label] = 1.0
    return FaceResult(1, (0.0, 0.0, 40.0, 40.0), 0.9, label, confidence, probs)


def seconds(plan: list[tuple[str | None, int | None]], start: int = 1000) -> list[dict]:
    """One accumulator record per (label or None for no face, segment) entry, FPS frames each."""
    acc, rows = SecondAccumulator(), []
    for s, (label, segment) in enumerate(plan):
        for j in range(FPS):
            f = None if label is None else face(label, confidence=0.3 if label == "uncertain" else 1.0)
            record = acc.add(f, start + s + (j + 0.5) / FPS, segment)
            if record:
                rows.append(record)
    rows.append(acc.flush())
    return rows


def test_happy_then_no_face_then_uncertain_gives_exact_shares():
    rows = seconds([("happy", None)] * 3 + [(None, None)] + [("uncertain", None)] * 2)
    assert [r["second"] for r in rows] == list(range(1000, 1006)) and all(r["frames"] == FPS for r in rows)
    assert rows[3]["face_present"] == 0.0 and rows[4]["uncertain"] == 1.0 and rows[0]["shares"]["happy"] == 1.0
    overall = summarize(rows, [])["overall"]
    assert overall["duration_s"] == 6 and overall["face_present"] == pytest.approx(5 / 6, abs=1e-4)
    assert overall["shares"] == {**dict.fromkeys(EXPRESSIONS, 0.0), "happy": 0.6, "uncertain": 0.4}
    assert overall["dominant"] == [{"expression": "happy", "share": 0.6}]
    assert overall["model_uncertainty"] == 0.4  # mean over the 5 seconds with a face
    assert overall["changes"]["dominant_changes"] == 0  # uncertain seconds are not guessed into a class
    assert overall["changes"]["first_half"]["happy"] == 1.0 and overall["changes"]["second_half"]["uncertain"] == 1.0
    assert [t["dominant"] for t in overall["timeline"]] == ["happy"] * 3 + [None] * 3
    assert [t["t"] for t in overall["timeline"]] == [0, 1, 2, 3, 4, 5]


def test_shares_are_confidence_weighted_over_confident_frames():
    acc = SecondAccumulator()
    acc.add(face("happy", {**dict.fromkeys(EXPRESSIONS, 0.0), "happy": 0.9, "sad": 0.1}, 0.9), 10.1)
    acc.add(face("sad", {**dict.fromkeys(EXPRESSIONS, 0.0), "happy": 0.5, "sad": 0.5}, 0.5), 10.2)
    acc.add(face("uncertain", dict.fromkeys(EXPRESSIONS, 1 / 7), 0.2), 10.3)
    acc.add(None, 10.4)
    record = acc.flush()
    assert record["frames"] == 4 and record["face_present"] == 0.75 and record["uncertain"] == pytest.approx(1 / 3)
    assert record["shares"]["happy"] == pytest.approx((0.81 + 0.25) / 1.4)
    assert record["shares"]["sad"] == pytest.approx((0.09 + 0.25) / 1.4)
    assert acc.flush() is None
    assert acc.add(None, 11.0) is None and acc.add(None, 10.9) is None  # a clock step back stays in this second


def test_per_question_summaries_and_changes():
    rows = seconds([("happy", 0), ("sad", 0), ("happy", 0), ("neutral", 1), ("neutral", 1)])
    summary = summarize(rows, [{"index": 0, "question": "A"}, {"index": 1, "question": "B"}])
    q0, q1 = summary["segments"]
    assert (q0["question"], q0["duration_s"], q0["changes"]["dominant_changes"]) == ("A", 3, 2)
    assert q0["dominant"] == [{"expression": "happy", "share": 0.6667}, {"expression": "sad", "share": 0.3333}]
    assert q1["shares"]["neutral"] == 1.0 and [t["t"] for t in q1["timeline"]] == [3, 4]
    assert summary["overall"]["changes"]["dominant_changes"] == 3


def test_session_settings_are_validated():
    with pytest.raises(ValidationError, match="Extra inputs"):
        SessionSettings(retention=3)
    assert SessionSettings.model_validate({"retention_days": 7}).retention_days == 7
    assert str(SessionSettings().db_path) == "state/sessions.db"
    with pytest.raises(ValidationError):
        SessionSettings(retention_days=0)


def test_schema_version_and_migrations_apply_once(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    assert store.applied_migrations == list(range(1, len(MIGRATIONS) + 1)) and store.schema_version == len(MIGRATIONS)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    again = SessionStore(tmp_path / "s.db")
    assert again.applied_migrations == [] and again.schema_version == len(MIGRATIONS)
    assert (tmp_path / "s.db").stat().st_mode & 0o077 == 0  # aggregates of people: owner-only
    again.close()


def test_a_crashed_session_is_recovered_at_open(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    sid = store.create("Ana", ["Q?"], 1000.5)["id"]
    store.start_segment(sid, 0, "Q?", 1000.6)
    for row in seconds([("happy", 0)] * 3):
        store.add_second(sid, row)
    store.close()  # the daemon dies: no finish()
    reopened = SessionStore(tmp_path / "s.db")
    assert reopened.recovered == [sid]
    session = reopened.get(sid)
    assert session["status"] == "recovered" and session["ended_at"] == 1002
    summary = session["summary"]
    assert summary["overall"]["duration_s"] == 3 and summary["segments"][0]["shares"]["happy"] == 1
    reopened.close()
    assert SessionStore(tmp_path / "s.db").recovered == []


def test_retention_deletes_old_finished_sessions_only(tmp_path):
    now = 1000 * DAY
    store = SessionStore(tmp_path / "s.db", clock=lambda: now)
    old = store.create(None, [], now - 40 * DAY)["id"]
    store.add_second(old, seconds([("happy", None)])[0])
    store.finish(old, {}, now - 40 * DAY + 60)
    recent = store.create(None, [], now - 5 * DAY)["id"]
    store.finish(recent, {}, now - 5 * DAY + 60)
    long_running = store.create(None, [], now - 40 * DAY)["id"]  # still recording: never deleted under it
    assert store.apply_retention(30) == 1
    assert store.get(old) is None and store.timeline(old) == []
    assert {s["id"] for s in store.list(10)} == {recent, long_running}
    assert store.delete(recent) and not store.delete(recent)
    store.close()


def test_an_erased_session_leaves_no_trace_in_the_files(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    sid = store.create("Zebulon-Unique-Alias", ["A question nobody else asks?"], 1000.0)["id"]
    store.start_segment(sid, 0, "A question nobody else asks?", 1000.0)
    store.finish(sid, {"overall": {}, "segments": []}, 1010.0)
    assert store.delete(sid)
    store.close()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"Zebulon-Unique-Alias", b"nobody else asks", sid.encode()):
        assert secret not in files  # secure_delete overwrote the rows, the WAL was truncated
