"""The booth's one active session: fed by the inference loop, started and stopped by the web API.

observe() runs in the inference thread for every processed frame and must never raise into it: a
storage failure (full disk, I/O error) is reported as `recording_error` for the session and as
`problem()` for /api/health ("not recording: ..."), and the next second is tried again; the first write
that succeeds clears the problem. The web threads call start / mark_question / stop / live; one lock
orders them all.

A question has two phases: "prepare" (the kiosk shows it with a countdown; nothing is recorded, and the
time counts towards no question and not as missing) and "answer" (its seconds are recorded as its segment).
A session started with prepare=True records nothing until the first answer is marked.
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
        self._segment: int | None = None  # the question the recorded seconds belong to
        self._question: int | None = None  # the question on the kiosk's screen, in either phase
        self._preparing = False
        self._phase_since = 0.0  # on _now()'s clock
        self._prepared_s = 0.0  # preparation time of the session so far, finished phases only
        self._closed_second: int | None = None  # the last second written before a preparation
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

    def start(self, alias: str | None, questions: Sequence[str], prepare: bool = False) -> dict:
        """`prepare`: record nothing until a question's answer is marked (the kiosk's first countdown)."""
        with self._lock:
            if self._session is not None:
                raise SessionBusy(f"session {self._session['id']} is still recording; stop it first")
            self._anchor = (self.clock(), self.monotonic())
            self._session = self._stored(self.store.create, alias, questions, self._now())
            self.counts["started"] += 1
            self._segment, self._question, self._latest, self.recording_error = None, None, None, None
            self._preparing, self._phase_since, self._prepared_s = prepare, self._now(), 0.0
            self._closed_second = None
            self._acc = SecondAccumulator()
            return self._session

    def mark_question(self, index: int, session_id: str | None = None, phase: str = "answer") -> dict:
        """Start question `index`'s answer (recorded as its segment) or its preparation (not recorded);
        without a question list any index >= 0 is 'Question N+1'."""
        with self._lock:
            session = self._active(session_id)
            questions = session["questions"]
            if questions and not 0 <= index < len(questions):
                raise IndexError(f"index {index} is outside the {len(questions)} questions (0-based)")
            if index < 0:
                raise IndexError(f"index {index} must be 0 or more")
            question = questions[index] if questions else f"Question {index + 1}"
            now = self._now()
            if phase == "prepare":
                if self._preparing:
                    self._prepared_s += now - self._phase_since
                else:
                    # the second in progress belongs to the answer before; nothing is recorded from here
                    record = self._acc.flush()
                    self._write(session["id"], record)
                    if record is not None:
                        self._closed_second = record["second"]
                    self._preparing = True
                self._phase_since = now
                self._question, self._segment = index, None
                return {"session_id": session["id"], "index": index, "question": question, "phase": phase,
                        "started_at": now}
            self._stored(self.store.start_segment, session["id"], index, question, now)
            if self._preparing:
                self._prepared_s += now - self._phase_since
                self._preparing = False
            if self._segment != index:
                self._phase_since = now
            self._segment = self._question = index  # the next wall-clock second belongs to this question
            return {"session_id": session["id"], "index": index, "question": question, "phase": phase,
                    "started_at": now}

    def stop(self, session_id: str | None = None) -> dict:
        """Close the active session: write its last (partial) second, summarize what was stored, finish."""
        with self._lock:
            session = self._active(session_id)
            self._session = None  # even if storage fails below, the booth is free for the next candidate
            self._write(session["id"], self._acc.flush())
            segments = self.store.get(session["id"])["segments"]
            summary = summarize(self.store.timeline(session["id"]), segments)
            # seconds of the session with no processed frame: the camera (or the pipeline) was down, and the
            # figures cover less than the candidate spoke; the summary says so rather than hiding it.
            # Preparation time was never meant to be recorded, so it is not missing.
            prepared = self._prepared_s + (self._now() - self._phase_since if self._preparing else 0.0)
            self._preparing = False
            spoken = self._now() - session["started_at"] - prepared
            summary["missing_s"] = max(0, int(spoken + 0.5) - summary["overall"]["duration_s"])
            self._stored(self.store.finish, session["id"], summary, self._now())
            self.counts["finished"] += 1
            return self.store.get(session["id"])

    def observe(self, result: FrameResult) -> None:
        """Called for every processed frame; cheap when no session is recording, never raises."""
        try:
            with self._lock:
                self._maybe_apply_retention()
                if self._session is None or self._preparing:
                    return
                now = self._now()
                if self._closed_second is not None and now < self._closed_second + 1:
                    return  # that second was written when the preparation began; a second is stored once
                face = next((f for f in result.faces if f.id == result.primary_id), None)
                record = self._acc.add(face, now, self._segment)
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
            phase = None if session is None else "prepare" if self._preparing else \
                "answer" if self._segment is not None else None
            return {"session_id": session["id"] if session else None,
                    "recording": session is not None,
                    "question_index": self._question if session else None,
                    "phase": phase,
                    # how long the question has been in this phase: a reloaded kiosk resumes its timer
                    "phase_elapsed_s": round(self._now() - self._phase_since, 1) if phase else None,
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
