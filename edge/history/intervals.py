"""The dashboard's recent history, in memory: one point per interval for the last hour at most.

The inference loop hands every processed frame's result to `History.observe`. Per interval
(history.interval_s, 10 s by default) it counts the frames, the frames without a face, the faces seen and
each face's label (one of the seven expressions, or uncertain), and drops the frame's pipeline latency
into a histogram of log-spaced bins. All of that is one vector of sums per interval in a
`SlidingCounts` window of history.window_minutes (edge/windows.py): the memory it takes is fixed by the
number of intervals, whatever the frame rate, and nothing older than the window is kept.

`snapshot()` (GET /api/history, the dashboard's charts) turns each completed interval into a point: the
frame rate, the share of the faces read as each expression and as uncertain, the share of frames without a
face, and the latency's p50 and p95 (read from the histogram: within 5 % of the exact percentiles). An
interval in which no frame came (the camera was down) is a point with no frames, so an outage shows as
such. Points are counts only: no face id, no box, no image; nothing identifies a person.

Intervals are kept on the monotonic clock (a booth without a real-time clock may see its wall clock jump
when it syncs), so each point says how long ago it started (`ago_s`) as well as when (`time`).
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from edge.history.settings import HistorySettings
from edge.pipeline import FrameResult
from edge.sessions.settings import EXPRESSIONS
from edge.windows import SlidingCounts

LABELS = (*EXPRESSIONS, "uncertain")
# Latency bins: 0.1 ms to 10 s, 8 a doubling (each 9 % wide); a value outside counts in the first or last.
LATENCY_EDGES_MS = np.geomspace(0.1, 10_000.0, 134)
PERCENTILES = {"p50": 0.50, "p95": 0.95}
# Where each count sits in an interval's vector of sums.
FRAMES, NO_FACE, FACES = 0, 1, 2
LABEL_AT = {label: 3 + i for i, label in enumerate(LABELS)}
LATENCY_AT = 3 + len(LABELS)
SIZE = LATENCY_AT + len(LATENCY_EDGES_MS) - 1


def latency_bin(ms: float) -> int:
    """The histogram bin of one frame's latency."""
    i = int(np.searchsorted(LATENCY_EDGES_MS, ms, side="right")) - 1
    return min(max(i, 0), len(LATENCY_EDGES_MS) - 2)


def histogram_percentile(counts: np.ndarray, q: float) -> float | None:
    """The q-quantile (0..1) of the values counted in `counts` (LATENCY_EDGES_MS's bins), interpolated on a
    log scale within its bin; None for an empty histogram."""
    total = float(counts.sum())
    if total <= 0:
        return None
    rank = q * total
    cumulative = np.cumsum(counts)
    i = min(int(np.searchsorted(cumulative, rank, side="left")), len(counts) - 1)
    inside = (rank - (cumulative[i] - counts[i])) / counts[i] if counts[i] else 0.0
    low, high = LATENCY_EDGES_MS[i], LATENCY_EDGES_MS[i + 1]
    return float(low * (high / low) ** inside)


class History:
    def __init__(self, settings: HistorySettings, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self.interval_s, self.window_s = settings.interval_s, settings.window_minutes * 60
        self.intervals = max(1, math.floor(self.window_s / self.interval_s + 1e-9))  # completed intervals shown
        self._clock, self._wall = clock, wall
        self._counts = SlidingCounts(self.window_s, SIZE, bucket_s=self.interval_s)
        self._first: float | None = None  # when the first frame was observed
        self._lock = threading.Lock()  # the inference loop adds, web threads read
        self._cached: tuple[int, list[dict]] | None = None  # (current interval, its completed points)

    def observe(self, result: FrameResult, now: float | None = None) -> None:
        """One processed frame (called by the inference loop after the pipeline)."""
        with self._lock:  # the time is read under the lock: no frame lands in an interval already summed up
            now = self._clock() if now is None else now
            add = self._counts.add
            if self._first is None:
                self._first = now
            add(now, FRAMES)
            if not result.faces:
                add(now, NO_FACE)
            for face in result.faces:
                add(now, FACES)
                if (at := LABEL_AT.get(face.label)) is not None:  # a label no expression: counted as a face only
                    add(now, at)
            add(now, LATENCY_AT + latency_bin(result.timings_ms.get("total", 0.0)))

    def snapshot(self, now: float | None = None) -> dict:
        """The completed intervals of the window, oldest first (see the module's docstring)."""
        with self._lock:
            now = self._clock() if now is None else now
            current = int(now // self.interval_s)
            if self._cached is None or self._cached[0] != current:
                self._cached = (current, self._completed(now, current))
            points = self._cached[1]
        wall = self._wall()
        return {"interval_s": self.interval_s, "window_s": self.window_s, "labels": list(LABELS),
                "points": [{"time": round(wall - (now - p["start"]), 3), "ago_s": round(now - p["start"], 3),
                            **{k: dict(v) if isinstance(v, dict) else v for k, v in p.items() if k != "start"}}
                           for p in points]}  # the cached points stay as they were

    def _completed(self, now: float, current: int) -> list[dict]:
        if self._first is None:
            return []
        self._counts.evict(now)
        held = {round(start / self.interval_s): sums for start, sums in self._counts.buckets()}
        empty = np.zeros(SIZE)
        first = int(self._first // self.interval_s)
        if self._first - first * self.interval_s > self.interval_s / 2:
            first += 1  # under half an interval seen: a handful of frames makes no rate (a start-up spike)
        points = []
        for k in range(max(first, current - self.intervals), current):
            start = k * self.interval_s
            seconds = start + self.interval_s - max(start, self._first)  # the first interval began mid-way
            points.append({"start": start, **self._point(held.get(k, empty), seconds)})
        return points

    @staticmethod
    def _point(sums: np.ndarray, seconds: float) -> dict:
        frames, faces = int(sums[FRAMES]), int(sums[FACES])
        latency = sums[LATENCY_AT:]
        return {"seconds": round(seconds, 3), "frames": frames, "fps": round(frames / seconds, 2) if seconds else 0.0,
                "no_face": round(sums[NO_FACE] / frames, 4) if frames else None, "faces": faces,
                "shares": {label: round(sums[LABEL_AT[label]] / faces, 4) for label in LABELS} if faces else None,
                "latency_ms": {name: round(histogram_percentile(latency, q), 2) for name, q in PERCENTILES.items()}
                if frames else None}
