"""What a booth tells the fleet: aggregates over a window of frames, health and model versions.

Only figures leave the device: no image, no box, no face id, no per-frame record. Expression shares are
the share of frames (with a face) whose primary face showed each expression over the window.
"""
from __future__ import annotations

import time
from collections import Counter, deque

from edge.pipeline import FrameResult
from edge.state import LiveState

MODEL_KEYS = ("name", "task", "version", "precision")


class FrameWindow:
    """Per-frame face counts and primary expressions over the last window_s seconds."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._frames: deque[tuple[float, int, str | None]] = deque()  # (monotonic time, faces, expression)

    def observe(self, result: FrameResult, now: float | None = None) -> None:
        primary = next((f for f in result.faces if f.id == result.primary_id), None)
        self._frames.append((time.monotonic() if now is None else now, len(result.faces),
                             primary.label if primary else None))

    def summary(self, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        while self._frames and self._frames[0][0] < now - self.window_s:
            self._frames.popleft()
        faces = [n for _, n, _ in self._frames]
        labels = Counter(label for _, _, label in self._frames if label is not None)
        with_face = sum(labels.values())
        return {"window_s": self.window_s, "frames": len(faces),
                "faces": {"mean": round(sum(faces) / len(faces), 3) if faces else 0.0, "max": max(faces, default=0),
                          "share_of_frames": round(with_face / len(faces), 3) if faces else 0.0},
                "expressions": {k: round(v / with_face, 3) for k, v in sorted(labels.items())}}


def health_payload(state: LiveState) -> dict:
    h = state.health()
    return {"status": h.status, "reasons": h.reasons}


def state_payload(state: LiveState, device_id: str) -> dict:
    """What changes rarely: models, source and the monitor's states (ok/warn/alert per figure), so that it
    is only sent when something worth a look changed."""
    snapshot = state.figures("monitoring")
    monitoring = snapshot and {"state": snapshot["state"], "reference": snapshot["reference"],
                               "states": {name: m["state"] for name, m in snapshot["metrics"].items()}}
    return {"device_id": device_id, "models": [{k: m.get(k) for k in MODEL_KEYS} for m in state.models],
            "source": state.source, "fatal": state.fatal, "monitoring": monitoring}


def metrics_payload(state: LiveState, window: FrameWindow) -> dict:
    """The figures that move: rates, latency, counters, the window's faces and expressions, and the
    monitor's values with the reasons for any warn or alert."""
    snapshot = state.figures("monitoring")
    monitoring = snapshot and {"reasons": snapshot["reasons"],
                               "values": {name: m["value"] for name, m in snapshot["metrics"].items()}}
    return {"uptime_s": round(time.time() - state.started, 1), "fps": round(state.fps(), 2),
            "latency_ms": {stage: {k: round(v, 2) for k, v in q.items()} for stage, q in state.latency().items()},
            "counters": {"frames_in": state.frames_in, "processed": state.processed, "dropped": state.dropped,
                         "errors": state.errors},
            **window.summary(), "monitoring": monitoring}
