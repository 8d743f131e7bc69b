"""Time-based sliding windows, cheap enough to update on every frame: the one notion of "the last N
seconds" that the monitor, telemetry, the live frame rate and the tracker's smoothing use, each window
named with its length.

`TimedRows` keeps every row of the last N seconds (for medians and percentiles of a short window);
`SlidingCounts` keeps running sums in buckets (one second unless told otherwise), so an hour-long
window costs memory in proportion to its length, not to the frame rate, and its buckets are a time series
(the dashboard's history); `RunningMean` is the mean vector of the last N seconds
in O(1) a sample (a tracked face's smoothed expression).
"""
from __future__ import annotations

from collections import deque

import numpy as np


class TimedRows:
    """Rows of numbers stamped with a time; rows older than `seconds` are dropped."""

    def __init__(self, seconds: float, columns: int = 0):
        self.seconds = seconds
        self.times: deque[float] = deque()
        self._columns: list[deque[float]] = [deque() for _ in range(columns)]

    def add(self, now: float, *row: float) -> None:
        self.times.append(now)
        for column, value in zip(self._columns, row):
            column.append(value)
        self.evict(now)

    def evict(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
            for column in self._columns:
                column.popleft()

    def column(self, i: int) -> np.ndarray:
        return np.fromiter(self._columns[i], float, len(self._columns[i]))

    def __len__(self) -> int:
        return len(self.times)


class SlidingCounts:
    """A vector of sums over the last `seconds`, e.g. per-class prediction counts, kept in buckets of
    `bucket_s` seconds (aligned to its multiples): at most seconds / bucket_s + 1 buckets, whatever the rate."""

    def __init__(self, seconds: float, size: int, bucket_s: float = 1.0):
        self.seconds, self.bucket_s = seconds, bucket_s
        self.total = np.zeros(size)
        self._buckets: deque[tuple[int, np.ndarray]] = deque()  # (bucket number, sums added in it)

    def add(self, now: float, index: int, amount: float = 1.0) -> None:
        bucket = int(now // self.bucket_s)
        if not self._buckets or self._buckets[-1][0] != bucket:
            self._buckets.append((bucket, np.zeros_like(self.total)))
            self.evict(now)
        self._buckets[-1][1][index] += amount
        self.total[index] += amount

    def evict(self, now: float) -> None:
        # a bucket goes once all of it is out of the window: the window is exact to a bucket
        while self._buckets and (self._buckets[0][0] + 1) * self.bucket_s <= now - self.seconds:
            self.total -= self._buckets.popleft()[1]
        if not self._buckets:
            self.total[:] = 0  # no rounding residue of the running sums outlives the window

    def buckets(self) -> list[tuple[float, np.ndarray]]:
        """(start time, a copy of its sums) of each bucket held, oldest first: the sums as a time series (a
        bucket nothing was added in is absent). evict(now) first gives exactly the window up to now."""
        return [(bucket * self.bucket_s, sums.copy()) for bucket, sums in self._buckets]


class RunningMean:
    """The mean of the vectors added in the last `seconds`, kept as a running sum: O(1) a sample."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.samples: deque[tuple[float, np.ndarray]] = deque()
        self._total: np.ndarray | None = None  # float64, so long windows do not drift

    def add(self, now: float, vector: np.ndarray) -> np.ndarray:
        """Add `vector` at `now`; the mean over the window that ends at `now`."""
        # a clock that went backwards (a restarted source) drops the whole window rather than keeping it forever
        while self.samples and not now - self.seconds <= self.samples[0][0] <= now:
            self._total -= self.samples.popleft()[1]
        if not self.samples:  # restart from exact zero: no rounding carried over from earlier windows
            self._total = np.zeros(len(vector))
        self.samples.append((now, vector))
        self._total += vector
        return self._total / len(self.samples)

    def __len__(self) -> int:
        return len(self.samples)
