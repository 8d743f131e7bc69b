"""A real source that misbehaves on command, for soak tests and drills of the camera watchdog.

Spec `faults:CONTROL:INNER` wraps the source INNER (any spec, e.g. a video file) and reads one word
from the file CONTROL before every frame; another process (edge.devtools.soak, a test, an operator with `echo`)
writes the word to inject a fault and `ok` to end it:

    ok       frames pass through
    stall    read() blocks, as a camera whose driver stops delivering while the device stays open
    hang     read() blocks for good, even after `ok`: a driver that never returns (every read that
             entered it stays stuck; new opens read normally once the control says `ok` again)
    freeze   the last image comes back again and again, as OpenCV does after some unplugs
    vanish   reads fail and the device cannot be reopened, as an unplugged USB camera
    bad      broken frames (None, float, 4-channel, empty) mixed with odd valid ones (black, 2x2, grey)
    raise    read() raises an I/O error, as a driver that errors out

A missing or empty control file means `ok`. The file is re-read only when its mtime changes, so the
check costs one stat() per frame.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from edge.sources.base import FrameSource, SourceError

MODES = ("ok", "stall", "hang", "freeze", "vanish", "bad", "raise")
POLL_S = 0.05  # how often a stalled or vanished read looks at the control file again


def bad_images(like: np.ndarray) -> list[np.ndarray | None]:
    """One round of the `bad` fault: what read() must reject, then odd frames the pipeline must survive."""
    h, w = like.shape[:2]
    return [None, like.astype(np.float32), np.zeros((h, w, 4), np.uint8), np.zeros((0, w, 3), np.uint8),
            np.zeros_like(like), np.zeros((2, 2, 3), np.uint8), np.zeros((h, w), np.uint8), like]


class FaultInjectingSource(FrameSource):
    # like a V4L2 camera: a run of failed reads ends the source after about 5 s
    max_bad_reads = 100
    bad_read_delay_s = POLL_S

    def __init__(self, inner: FrameSource, control: str | Path) -> None:
        super().__init__(f"faults:{inner.name}")
        self.inner, self.control = inner, Path(control)
        self._mode, self._mtime = "ok", None
        self._last: np.ndarray | None = None
        self._bad: list[np.ndarray | None] = []

    @property
    def mode(self) -> str:
        try:
            mtime = os.stat(self.control).st_mtime_ns
        except FileNotFoundError:
            return "ok"
        if mtime != self._mtime:
            word = self.control.read_text().strip() or "ok"
            if word not in MODES:
                raise SourceError(f"{self.control}: unknown fault {word!r}; write one of {', '.join(MODES)}")
            self._mode, self._mtime = word, mtime
        return self._mode

    def _open(self) -> None:
        if self.mode == "vanish":
            raise SourceError(f"{self.name}: injected: no camera (vanished); write 'ok' to {self.control}")
        self.inner.open()

    def _grab(self) -> np.ndarray | None:
        mode = self.mode
        if mode == "hang":
            threading.Event().wait()  # never set: this read never returns
        while mode == "stall":  # blocks the capture thread, like a driver that never returns the buffer
            time.sleep(POLL_S)
            mode = self.mode
        if mode == "vanish":
            return None
        if mode == "raise":
            raise OSError(f"{self.name}: injected: VIDIOC_DQBUF: No such device")
        frame = self.inner.read()  # also paces a file source, so a faulty camera keeps its frame rate
        if frame is None:
            self.ended = True
            return None
        if mode == "bad":
            if not self._bad:
                self._bad = bad_images(frame.image)
            return self._bad.pop(0)
        if mode == "freeze" and self._last is not None:
            return self._last.copy()
        self._last = frame.image
        return frame.image

    def _close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return f"{self.inner.describe()} with faults injected from {self.control}"
