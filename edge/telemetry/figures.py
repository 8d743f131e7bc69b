"""What a booth tells the fleet: aggregates over a window of frames, health and model versions.

Only figures leave the device: no image, no box, no face id, no per-frame record. Expression shares are
the share of frames (with a face) whose primary face showed each expression over the window.
"""
from __future__ import annotations

import time
from collections import Counter

from edge.pipeline import FrameResult
from edge.state import LiveState
from edge.windows import TimedRows

MODEL_KEYS = ("name", "task", "version", "precision")


class FrameWindow:
    """Per-frame face counts and primary expressions over the last window_s seconds."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._frames = TimedRows(window_s, 2)  # faces in the frame, index of the primary face's expression
        self._labels: dict[str, int] = {}  # expression -> index; -1: no primary face

    def observe(self, result: FrameResult, now: float | None = None) -> None:
        primary = next((f for f in result.faces if f.id == result.primary_id), None)
        label = self._labels.setdefault(primary.label, len(self._labels)) if primary else -1
        self._frames.add(time.monotonic() if now is None else now, len(result.faces), label)

    def summary(self, now: float | None = None) -> dict:
        self._frames.evict(time.monotonic() if now is None else now)
        faces, labels = self._frames.column(0), self._frames.column(1)
        names = {i: name for name, i in self._labels.items()}
        counts = Counter(names[int(i)] for i in labels if i >= 0)
        with_face = sum(counts.values())
        return {"window_s": self.window_s, "frames": len(faces),
                "faces": {"mean": round(float(faces.mean()), 3) if len(faces) else 0.0,
                          "max": int(faces.max()) if len(faces) else 0,
                          "share_of_frames": round(with_face / len(faces), 3) if len(faces) else 0.0},
                "expressions": {k: round(v / with_face, 3) for k, v in sorted(counts.items())}}


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
