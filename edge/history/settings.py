"""Configuration of the dashboard's history: how long it reaches back and how long each point is.

EdgeConfig holds a `HistorySettings` as its `history` section.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from edge.strict import Strict

MAX_POINTS = 720  # e.g. an hour in 5 s intervals: every dashboard poll carries every point


class HistorySettings(Strict):
    window_minutes: float = Field(60.0, gt=0, le=60, description="minutes of history the dashboard's charts "
                                  "(expression mix, frame rate, latency) keep, in memory only; an hour at most")
    interval_s: float = Field(10.0, ge=1, le=60, description="seconds each point of the history sums up (a "
                              "bucket of counts and a latency histogram: memory grows with window / interval, "
                              "never with the frame rate)")

    @model_validator(mode="after")
    def _consistent(self) -> HistorySettings:
        points = self.window_minutes * 60 / self.interval_s
        if points < 1:
            raise ValueError(f"interval_s ({self.interval_s:g}) is longer than the window "
                             f"({self.window_minutes:g} min)")
        if points > MAX_POINTS:
            raise ValueError(f"{self.window_minutes:g} min in {self.interval_s:g} s intervals is {points:.0f} "
                             f"points; at most {MAX_POINTS}: lengthen interval_s or shorten window_minutes")
        return self
