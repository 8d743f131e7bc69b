"""Capture in its own thread, keeping only the newest frame, so inference never works on stale images."""
from __future__ import annotations

import threading
import time
import zlib

import numpy as np

from edge.sources.base import Frame, FrameSource


def fingerprint(image: np.ndarray) -> int:
    """A checksum of every 4th pixel in both directions: cheap at 30 fps (~20 us for 640x480), and a
    live sensor's noise changes it on every frame, while a repeated buffer keeps it."""
    return zlib.crc32(np.ascontiguousarray(image[::4, ::4]))


class LatestFrameReader:
    """Runs `source.read()` in a daemon thread; `get()` hands out the newest frame, each at most once.

    Capture never waits for the consumer: a frame not taken before the next one arrives is replaced
    and counted in `dropped`. The reader owns the source: start() opens it (if it is not open yet)
    and the capture thread closes it when it finishes, so a device is never released by one thread
    while another reads from it. An exception in the source stops capture and is kept in
    `last_error`; a finite source that runs out sets `ended`. Either way waiting consumers wake up.

    read() returning a frame does not prove the camera is alive: after an unplug some backends hand
    back the last buffer again and again. So each frame's content is compared with the previous one;
    `fresh` counts frames with new content, `repeated` the others, and `last_fresh` is the monotonic
    time of the newest fresh frame (None before the first), for the camera watchdog to judge.
    """

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.captured = 0
        self.dropped = 0
        self.taken = 0
        self.ended = False
        self.last_error: str | None = None
        self.fresh = 0
        self.repeated = 0
        self.last_fresh: float | None = None
        self._last_digest: int | None = None
        self._latest: Frame | None = None
        # Set under the lock at the very end of capture; is_alive() would still be True while the
        # thread closes the source, and a consumer checking it would wait out its whole timeout.
        self._finished = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LatestFrameReader:
        if self._thread is not None:
            raise RuntimeError("LatestFrameReader.start() called twice; make a new reader to restart")
        self.source.open()  # in the caller's thread, so a bad source fails loudly at startup
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.source.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                digest = None if frame is None else fingerprint(frame.image)
                with self._cond:
                    if frame is None:
                        self.ended = True
                        return
                    if digest == self._last_digest:
                        self.repeated += 1
                    else:
                        self.fresh += 1
                        self.last_fresh = frame.timestamp
                    self._last_digest = digest
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self.captured += 1
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - kept for the dashboard instead of dying silently
            with self._cond:
                self.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001
                with self._cond:
                    self.last_error = self.last_error or f"close failed: {type(exc).__name__}: {exc}"
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def get(self, timeout: float | None = 1.0) -> Frame | None:
        """A frame newer than any returned before, waiting up to `timeout` s; None on timeout or end.

        A frame captured just before the source ended is still handed out first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._latest is None:
                if self._thread is None or self._finished:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame, self._latest = self._latest, None
            self.taken += 1
            return frame

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop capture and join the thread; False if it is still stuck in a blocking read."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def stats(self) -> dict:
        with self._cond:
            return {"source": self.source.describe(), "running": self.running, "captured": self.captured,
                    "dropped": self.dropped, "taken": self.taken, "fresh": self.fresh, "repeated": self.repeated,
                    "read_errors": self.source.read_errors,
                    "last_read_error": self.source.last_read_error, "ended": self.ended,
                    "last_error": self.last_error}

    def __enter__(self) -> LatestFrameReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
