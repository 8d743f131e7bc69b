"""Sessions fed by hand: a settable clock, synthetic faces and whole seconds of frames for the recorder."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from edge.pipeline import FaceResult, FrameResult
from edge.sessions.advice import AdviceRules
from edge.sessions.api import sessions_blueprint
from edge.sessions.recorder import SessionRecorder
from edge.sessions.settings import EXPRESSIONS
from edge.sessions.store import SessionStore

FPS = 8  # a power of two: frame times are exact binary fractions, no floor() surprises
START = 1_700_000_000.0


class FakeClock:
    def __init__(self, t: float = START):
        self.t = t

    def __call__(self) -> float:
        return self.t


def face(label: str, confidence: float = 1.0, face_id: int = 1) -> FaceResult:
    probs = dict.fromkeys(EXPRESSIONS, 0.0)
    if label == "uncertain":
        probs = dict.fromkeys(EXPRESSIONS, 1 / 7)
        confidence = 1 / 7
    else:
        probs[label] = 1.0
    return FaceResult(face_id, (10.0, 10.0, 50.0, 50.0), 0.9, label, confidence, probs)


def feed(recorder: SessionRecorder, clock: FakeClock, seconds: int, label: str | None) -> None:
    """`seconds` whole seconds of frames from the current (integral) time; None: nobody in view."""
    base = clock.t
    for s in range(seconds):
        for j in range(FPS):
            clock.t = base + s + (j + 0.5) / FPS
            # a bystander (id 2) is in the frame too: only the primary face may count
            faces = [] if label is None else [face("angry", face_id=2), face(label)]
            recorder.observe(FrameResult(0, clock.t, 640, 480, faces, None if label is None else 1))
    clock.t = base + seconds


def make_booth(folder: Path, **blueprint_options):
    """A session API on a real SQLite file in `folder`, its recorder and store on one fake clock: (test client,
    recorder, clock, store)."""
    clock = FakeClock()
    store = SessionStore(folder / "sessions.db", retention_days=30, clock=clock)
    recorder = SessionRecorder(store, retention_days=30, clock=clock, monotonic=clock)
    app = Flask(__name__)
    app.register_blueprint(sessions_blueprint(store, recorder, AdviceRules(), clock=clock, **blueprint_options))
    return app.test_client(), recorder, clock, store
