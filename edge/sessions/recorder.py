"""The booth's one active session: fed by the inference loop, started and stopped by the web API.

observe() runs in the inference thread for every processed frame and must never raise into it: a
storage failure (full disk, I/O error) is reported as `recording_error` for the session and as
`problem()` for /api/health ("not recording: ..."), and the next second is tried again; the first write
that succeeds clears the problem. The web threads call start / mark_question / stop / live; one lock
orders them all.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from edge.pipeline import FrameResult
from edge.sessions.aggregate import SecondAccumulator, summarize
from edge.sessions.store import DAY_S, SessionStore

log = logging.getLogger("edge.sessions")
T = TypeVar("T")


class SessionBusy(Exception):
    """A session is already recording: one booth, one candidate."""


class NotRecording(Exception):
    """The session exists (or not) but is not the one recording now."""


class SessionRecorder:
    def __init__(self, store: SessionStore, retention_days: int | None = None,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic):
        self.store, self.retention_days = store, retention_days
        self.clock, self.monotonic = clock, monotonic
        self._lock = threading.Lock()
        self.counts = {"started": 0, "finished": 0, "erased": 0}  # since this process started, for /metrics
        self._session: dict | None = None
        self._segment: int | None = None
        self._acc = SecondAccumulator()
        self._latest: dict | None = None
        self._anchor = (0.0, 0.0)
        self._next_retention = monotonic() + DAY_S  # the store already applied it at open
        self.recording_error: str | None = None
        # the last write failed (or the store's start-up writes did); cleared by the next write that works
        self.storage_error: str | None = store.startup_error

    def _now(self) -> float:
        # Wall-clock time anchored at the session's start and advanced by the monotonic clock: an NTP step
        # in mid-session (a Pi has no RTC) cannot reorder or fold its seconds.
        wall, mono = self._anchor
        return wall + (self.monotonic() - mono)

    @property
    def active_id(self) -> str | None:
        with self._lock:
            return self._session["id"] if self._session else None

    def start(self, alias: str | None, questions: Sequence[str]) -> dict:
        with self._lock:
            if self._session is not None:
                raise SessionBusy(f"session {self._session['id']} is still recording; stop it first")
            self._anchor = (self.clock(), self.monotonic())
            self._session = self._stored(self.store.create, alias, questions, self._now())
            self.counts["started"] += 1
            self._segment, self._latest, self.recording_error = None, None, None
            self._acc = SecondAccumulator()
            return self._session

    def mark_question(self, index: int, session_id: str | None = None) -> dict:
        """Start question `index`; without a question list any index >= 0 is 'Question N+1'."""
        with self._lock:
            session = self._active(session_id)
            questions = session["questions"]
            if questions and not 0 <= index < len(questions):
                raise IndexError(f"index {index} is outside the {len(questions)} questions (0-based)")
            if index < 0:
                raise IndexError(f"index {index} must be 0 or more")
            question = questions[index] if questions else f"Question {index + 1}"
            started = self._now()
            self._stored(self.store.start_segment, session["id"], index, question, started)
            self._segment = index  # the next wall-clock second belongs to this question
            return {"session_id": session["id"], "index": index, "question": question, "started_at": started}

    def stop(self, session_id: str | None = None) -> dict:
        """Close the active session: write its last (partial) second, summarize what was stored, finish."""
        with self._lock:
            session = self._active(session_id)
            self._session = None  # even if storage fails below, the booth is free for the next candidate
            self._write(session["id"], self._acc.flush())
            segments = self.store.get(session["id"])["segments"]
            summary = summarize(self.store.timeline(session["id"]), segments)
            # seconds of the session with no processed frame: the camera (or the pipeline) was down, and the
            # figures cover less than the candidate spoke; the summary says so rather than hiding it
            summary["missing_s"] = max(0, int(self._now() - session["started_at"] + 0.5) - summary["overall"]["duration_s"])
            self._stored(self.store.finish, session["id"], summary, self._now())
            self.counts["finished"] += 1
            return self.store.get(session["id"])

    def observe(self, result: FrameResult) -> None:
        """Called for every processed frame; cheap when no session is recording, never raises."""
        try:
            with self._lock:
                self._maybe_apply_retention()
                if self._session is None:
                    return
                face = next((f for f in result.faces if f.id == result.primary_id), None)
                record = self._acc.add(face, self._now(), self._segment)
                self._write(self._session["id"], record)
        except Exception as e:  # the inference loop matters more than one session's record
            log.exception("session recording failed")
            self.recording_error = f"recording failed: {e}"

    def discard(self, session_id: str) -> bool:
        """Drop the active session without finishing it (the candidate erases it mid-way); the caller deletes it."""
        with self._lock:
            if self._session is None or self._session["id"] != session_id:
                return False
            self._session, self._latest, self._acc = None, None, SecondAccumulator()
            self.counts["erased"] += 1
            return True

    def stats(self) -> dict:
        """Sessions started, finished and erased mid-way since the daemon started, and whether one records."""
        with self._lock:
            return {**self.counts, "active": int(self._session is not None)}

    def live(self) -> dict:
        """For the kiosk's live meter: the session, its question and the last completed second."""
        with self._lock:
            session = self._session
            return {"session_id": session["id"] if session else None,
                    "recording": session is not None,
                    "question_index": self._segment if session else None,
                    "elapsed_s": round(self._now() - session["started_at"], 1) if session else None,
                    "latest": self._latest if session else None,
                    "recording_error": self.recording_error}

    def close(self) -> None:
        """Daemon shutdown: an active session is finished with what was recorded so far."""
        if self.active_id is not None:
            try:
                self.stop()
            except sqlite3.Error as e:  # it stays 'recording' and is recovered at the next start
                log.error("could not finish the active session: %s", e)

    def _active(self, session_id: str | None) -> dict:
        if self._session is None or (session_id is not None and session_id != self._session["id"]):
            raise NotRecording("no session is recording" if session_id is None
                               else f"session {session_id} is not recording")
        return self._session

    def _write(self, session_id: str, record: dict | None) -> None:
        if record is None:
            return
        self._latest = record
        try:
            # committed now: a crash loses at most this second
            self._stored(self.store.add_second, session_id, record)
        except sqlite3.Error as e:  # e.g. "database or disk is full": keep recording, say so, retry next second
            self.recording_error = f"could not store the session's data: {e}"

    def problem(self) -> tuple[str, str] | None:
        """For /api/health: why sessions are not being stored, while they are not."""
        return None if self.storage_error is None else ("degraded", f"not recording: {self.storage_error}")

    def _stored(self, write: Callable[..., T], *args: object) -> T:
        try:
            result = write(*args)
        except sqlite3.Error as e:
            if self.storage_error is None:  # once per outage, not once a second
                log.error("session storage failed, not recording: %s", e)
            hint = f"; free space on the disk holding {self.store.path}" if "full" in str(e) else ""
            self.storage_error = f"session storage failed ({e}){hint}"
            raise
        if self.storage_error is not None:
            log.warning("session storage works again")
            self.storage_error = None
        return result

    def _maybe_apply_retention(self) -> None:
        if self.retention_days is None or self.monotonic() < self._next_retention:
            return
        self._next_retention = self.monotonic() + DAY_S
        try:
            deleted = self.store.apply_retention(self.retention_days)
        except sqlite3.Error as e:
            log.error("retention not applied: %s", e)
            return
        if deleted:
            log.info("retention: deleted %d session(s) older than %d days", deleted, self.retention_days)
