"""Pace a file or folder source to a frame rate, so a recording behaves like a live camera."""
from __future__ import annotations

import time


class Pacer:
    """Frame k is released at start + k / fps; fps None or <= 0 means no waiting at all."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps and fps > 0 else 0.0
        self._due: float | None = None

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        # After a stall (slow disk, paused process) restart the schedule instead of bursting frames to
        # catch up: a real camera would have dropped those frames, not queued them.
        if self._due is None or now - self._due > self.period:
            self._due = now
        elif self._due > now:
            time.sleep(self._due - now)
        self._due += self.period

    def reset(self) -> None:
        self._due = None
