"""Session aggregates in one local SQLite file: sessions, question segments, one row per second. Never images.

WAL with synchronous=FULL and a commit per second: a crash or power cut loses at most the second in
progress. Deleted rows are overwritten (secure_delete) and the WAL truncated, so an erased session does
not linger in the file. Every write is one transaction, so a session's finish is all there or not at
all. A full disk raises sqlite3.OperationalError from the write that hit it and leaves the file as it
was; start-up on a full disk still opens the store (`startup_error` says what could not be done).
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge.sessions.aggregate import summarize
from edge.sessions.settings import EXPRESSIONS

# Applied in order, each once, in one transaction with its version bump. Append; never edit a shipped one.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: initial schema
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, alias TEXT, questions TEXT NOT NULL, status TEXT NOT NULL,"
        " started_at REAL NOT NULL, ended_at REAL, summary TEXT)",
        "CREATE INDEX sessions_by_start ON sessions (started_at)",
        "CREATE TABLE segments (session_id TEXT NOT NULL REFERENCES sessions (id), idx INTEGER NOT NULL,"
        " question TEXT NOT NULL, started_at REAL NOT NULL, PRIMARY KEY (session_id, idx))",
        "CREATE TABLE timeline (session_id TEXT NOT NULL REFERENCES sessions (id), second INTEGER NOT NULL,"
        " segment INTEGER, frames INTEGER NOT NULL, face_frames INTEGER NOT NULL, uncertain REAL NOT NULL,"
        " angry REAL NOT NULL, disgust REAL NOT NULL, fear REAL NOT NULL, happy REAL NOT NULL, sad REAL NOT NULL,"
        " surprise REAL NOT NULL, neutral REAL NOT NULL, PRIMARY KEY (session_id, second))",
    ),
    (  # 2: the candidate's code for a finished summary (NULL while recording, and for sessions before it)
        "ALTER TABLE sessions ADD COLUMN code TEXT",
        "CREATE UNIQUE INDEX sessions_by_code ON sessions (code)",
    ),
]
SESSION_COLUMNS = "id, alias, questions, status, started_at, ended_at, summary, code"
# A summary's code: no 0/O, 1/I/L or U/V look-alikes, so it can be read off a screen or a printout and typed
# back on the kiosk's keypad. 29 ** 8 is 5.0e11 codes: with failed lookups throttled per client
# (edge/sessions/api.py), guessing one of a booth's few thousand live codes takes longer than any retention.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
CODE_LENGTH = 8
TIMELINE_COLUMNS = ("second", "segment", "frames", "face_frames", "uncertain", *EXPRESSIONS)
DAY_S = 86400.0


class SessionStore:
    def __init__(self, path: str | os.PathLike, retention_days: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.path, self.clock, self.retention_days = Path(path), clock, retention_days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Owner-only from the first byte; SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        # One connection shared under a lock: writes are one small row a second, and sharing keeps
        # every thread's view of "the active session" identical.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._lock = threading.RLock()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON", "foreign_keys=ON"):
            self._db.execute(f"PRAGMA {pragma}")
        self.applied_migrations = self._migrate()
        self.recovered: list[str] = []
        self.startup_error: str | None = None
        try:
            self.recovered = self.recover()
            if retention_days is not None:
                self.apply_retention(retention_days)
        except sqlite3.OperationalError as e:  # e.g. a full disk: start anyway, reads work; retried next start
            self.startup_error = f"could not close interrupted sessions or apply retention: {e}"

    def _write(self, *statements: tuple[str, Sequence[Any]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR); a second
                # ROLLBACK would raise "no transaction is active" and hide the real error.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _migrate(self) -> list[int]:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            applied = []
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                bump = ("UPDATE schema_version SET version = ?" if row or applied
                        else "INSERT INTO schema_version (version) VALUES (?)")
                self._write(*((sql, ()) for sql in statements), (bump, (version,)))
                applied.append(version)
            return applied

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    def create(self, alias: str | None, questions: Sequence[str], started_at: float) -> dict:
        session_id = uuid.uuid4().hex
        self._write(("INSERT INTO sessions (id, alias, questions, status, started_at) VALUES (?, ?, ?, ?, ?)",
                     (session_id, alias, json.dumps(list(questions)), "recording", started_at)))
        return self.get(session_id)

    def start_segment(self, session_id: str, index: int, question: str, started_at: float) -> None:
        # Re-marking a question (the candidate starts it again) continues the same segment.
        self._write(("INSERT OR IGNORE INTO segments (session_id, idx, question, started_at) VALUES (?, ?, ?, ?)",
                     (session_id, index, question, started_at)))

    def add_second(self, session_id: str, record: dict) -> None:
        values = [record[c] for c in TIMELINE_COLUMNS[:5]] + [record["shares"][e] for e in EXPRESSIONS]
        self._write((f"INSERT INTO timeline (session_id, {', '.join(TIMELINE_COLUMNS)}) "
                     f"VALUES (?{', ?' * len(TIMELINE_COLUMNS)})", (session_id, *values)))

    def finish(self, session_id: str, summary: dict, ended_at: float, status: str = "finished") -> None:
        """Store the summary and give the session its code (kept if it already has one)."""
        with self._lock:  # no other writer between choosing a free code and taking it
            self._write(("UPDATE sessions SET status = ?, ended_at = ?, summary = ?, code = COALESCE(code, ?) "
                         "WHERE id = ?", (status, ended_at, json.dumps(summary), self._free_code(), session_id)))

    def _free_code(self) -> str:
        while True:  # with 6,000 summaries kept a clash is 1 in 8e7: this loops once
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if self._db.execute("SELECT 1 FROM sessions WHERE code = ?", (code,)).fetchone() is None:
                return code

    def find_code(self, code: str) -> str | None:
        """The id of the finished session with this code (normalize_code'd), or None."""
        with self._lock:
            row = self._db.execute("SELECT id FROM sessions WHERE code = ? AND status != 'recording'",
                                   (code,)).fetchone()
        return row[0] if row else None

    def get(self, session_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            segments = self._db.execute("SELECT idx, question, started_at FROM segments WHERE session_id = ? "
                                        "ORDER BY idx", (session_id,)).fetchall()
        session = self._session(row)
        session["segments"] = [{"index": i, "question": q, "started_at": t} for i, q, t in segments]
        return session

    def timeline(self, session_id: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(TIMELINE_COLUMNS)} FROM timeline WHERE session_id = ? "
                                    "ORDER BY second", (session_id,)).fetchall()
        records = []
        for row in rows:
            second, segment, frames, face_frames, uncertain = row[:5]
            records.append({"second": second, "segment": segment, "frames": frames, "face_frames": face_frames,
                            "face_present": face_frames / frames if frames else 0.0, "uncertain": uncertain,
                            "shares": dict(zip(EXPRESSIONS, row[5:]))})
        return records

    def list(self, limit: int = 20) -> list[dict]:
        with self._lock:
            # NULL for the summary: a listing never needs it, and 200 summaries with timelines are megabytes;
            # NULL for the code: a listing never shows codes, which open summaries on the kiosk
            rows = self._db.execute("SELECT id, alias, questions, status, started_at, ended_at, NULL, NULL FROM "
                                    "sessions ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [{k: s[k] for k in ("id", "alias", "status", "started_at", "ended_at", "duration_s")}
                for s in map(self._session, rows)]

    def delete(self, session_id: str) -> bool:
        """Erasure: every row of the session, then the WAL truncated so no copy of the rows remains."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                return False
            self._write(*((f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
                          for table in ("timeline", "segments")),
                        ("DELETE FROM sessions WHERE id = ?", (session_id,)))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return True

    def apply_retention(self, days: int) -> int:
        """Delete finished (or recovered) sessions that ended more than `days` ago; never a recording one."""
        cutoff = self.clock() - days * DAY_S
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM sessions WHERE status != 'recording' AND "
                                                  "COALESCE(ended_at, started_at) < ?", (cutoff,))]
            for session_id in ids:
                self.delete(session_id)
        return len(ids)

    def recover(self) -> list[str]:
        """Sessions left 'recording' by a crash: closed at their last stored second, summarized from the rows."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM sessions WHERE status = 'recording'")]
            for session_id in ids:
                session, rows = self.get(session_id), self.timeline(session_id)
                ended = max(rows[-1]["second"], session["started_at"]) if rows else session["started_at"]
                self.finish(session_id, summarize(rows, session["segments"]), ended, status="recovered")
        return ids

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _session(self, row: tuple) -> dict:
        session_id, alias, questions, status, started_at, ended_at, summary, code = row
        end = ended_at if ended_at is not None else self.clock()
        # when retention deletes it: apply_retention's rule, from the end (or, unfinished, the start)
        kept_until = (None if self.retention_days is None or status == "recording"
                      else (ended_at if ended_at is not None else started_at) + self.retention_days * DAY_S)
        return {"id": session_id, "alias": alias, "questions": json.loads(questions), "status": status,
                "started_at": started_at, "ended_at": ended_at, "duration_s": round(max(0.0, end - started_at), 1),
                "summary": json.loads(summary) if summary else None, "code": code, "kept_until": kept_until}


def normalize_code(text: str) -> str | None:
    """A code as a person types it ('abcd-efgh', 'ABCD EFGH') in its stored form; None if it cannot be one."""
    if not text.isascii():  # str.upper() turns some other letters into ASCII ones ("ſ" into "S")
        return None
    code = "".join(c for c in text.upper() if c not in " -\t")
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code
