"""What the web layer reads: the latest results, counters, latency statistics and health.

The inference loop writes, the web threads read; one lock guards everything, and a condition wakes
the server-sent-event streams when a new result arrives. LiveState holds data, not the parts that make
it: at composition each part registers a health check (`watch`) and the figures it reports (`report`,
e.g. the camera watchdog's counters, the monitor's snapshot), so that readers never reach into a part.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge import __version__
from edge.pipeline import FrameResult
from edge.windows import TimedRows

LATENCY_WINDOW = 300  # frames kept for the latency percentiles (10 s at 30 fps)
FPS_WINDOW_S = 5.0  # the live frame rate is measured over this many seconds
STALE_AFTER_S = 5.0  # health says "no new result" after this long without one


STATUSES = ("ok", "degraded", "failing")  # in order of gravity


@dataclass
class Health:
    status: str  # ok | degraded | failing
    reasons: list[str] = field(default_factory=list)


# A component's check: None while it is fine, else (status, reason), e.g. ("degraded", "not recording: ...").
Check = Callable[[], "tuple[str, str] | None"]
# A part's figures for the status page, /metrics and telemetry: a JSON-ready dict, computed when read.
Figures = Callable[[], dict]


class LiveState:
    def __init__(self, models: list[dict] | None = None, source: str = ""):
        self.models, self.source = models or [], source
        self.fatal: str | None = None  # set when start-up failed: the server stays up to say why
        self.started = time.time()
        self.latest: FrameResult | None = None
        self.version = 0  # bumped on every new result; SSE clients wait for it to change
        self.frames_in = self.processed = self.dropped = self.errors = 0
        self.last_error: str | None = None
        self.checks: dict[str, Check] = {}
        self.reports: dict[str, Figures] = {}
        self.first_result_s: float | None = None
        self.last_result_at: float | None = None  # monotonic
        self.latest_time: float | None = None  # wall clock (epoch s) when the latest result was recorded
        self.preview_jpeg: bytes | None = None  # only ever set when the config enables a preview
        self._timings: deque = deque(maxlen=LATENCY_WINDOW)
        self._detected: deque = deque(maxlen=LATENCY_WINDOW)  # whether the detector ran, per recent frame
        self._stamps = TimedRows(FPS_WINDOW_S)  # monotonic times of the results
        self._changed = threading.Condition()

    def record(self, result: FrameResult, frames_in: int, dropped: int) -> None:
        with self._changed:
            self.latest, self.frames_in, self.dropped = result, frames_in, dropped
            self.latest_time = time.time()
            self.processed += 1
            self.version += 1
            self._timings.append(result.timings_ms)
            self._detected.append(result.detected)
            self.last_result_at = time.monotonic()
            self._stamps.add(self.last_result_at)
            if self.first_result_s is None:
                self.first_result_s = time.time() - self.started
            self._changed.notify_all()

    def record_error(self, message: str) -> None:
        with self._changed:
            self.errors += 1
            self.last_error = message
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout)
            return self.version

    def fps(self) -> float:
        with self._changed:
            self._stamps.evict(time.monotonic())
            recent = list(self._stamps.times)
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0

    def latency(self) -> dict[str, dict[str, float]]:
        with self._changed:
            timings = list(self._timings)
        if not timings:
            return {}
        return {stage: {"p50_ms": round(float(np.percentile(v, 50)), 3), "p95_ms": round(float(np.percentile(v, 95)), 3)}
                for stage in timings[0] for v in [[t[stage] for t in timings]]}

    def detector_duty(self) -> float | None:
        """The share of the recent frames the face detector ran on (the pipeline's detection cadence)."""
        with self._changed:
            recent = list(self._detected)
        return round(sum(recent) / len(recent), 3) if recent else None

    def fail(self, reason: str) -> None:
        with self._changed:
            self.fatal = reason
            self.version += 1
            self._changed.notify_all()

    def watch(self, component: str, check: Check) -> None:
        """Make `check` part of every health answer, its reasons prefixed with `component`."""
        self.checks[component] = check

    def report(self, component: str, figures: Figures) -> None:
        """Make `figures` readable as figures(component): "camera", "loops", "monitoring", "history", "source"."""
        self.reports[component] = figures

    def figures(self, component: str) -> dict | None:
        """The component's figures now; None before it has started (or where it never does)."""
        report = self.reports.get(component)
        return report() if report is not None else None

    def health(self) -> Health:
        if self.fatal:
            return Health("failing", [self.fatal])
        status, reasons = "ok", []
        for component, check in list(self.checks.items()):
            if (problem := check()) is not None:
                status = max(status, problem[0], key=STATUSES.index)
                reasons.append(f"{component}: {problem[1]}")
        with self._changed:
            last = self.last_result_at
        if last is None:
            reasons.append("no frame processed yet")
        elif (stale := time.monotonic() - last) > STALE_AFTER_S:
            reasons.append(f"no new result for {stale:.0f} s")
        if reasons and status == "ok":
            status = "degraded"
        return Health(status, reasons)

    def status(self) -> dict:
        health = self.health()
        latest = {"time": round(self.latest_time, 3), **self.latest.as_dict()} if self.latest else None
        return {"version": __version__, "health": {"status": health.status, "reasons": health.reasons},
                "uptime_s": round(time.time() - self.started, 1), "source": self.source,
                "source_info": self.figures("source"), "fps": round(self.fps(), 2),
                "counters": {"frames_in": self.frames_in, "processed": self.processed, "dropped": self.dropped,
                             "errors": self.errors},
                "last_error": self.last_error, "latency_ms": self.latency(), "detector_duty": self.detector_duty(),
                "models": self.models,
                "camera": self.figures("camera"),
                "first_result_s": None if self.first_result_s is None else round(self.first_result_s, 3),
                "sessions": self.figures("sessions"), "latest": latest}
