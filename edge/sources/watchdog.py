"""The camera watchdog: notices a camera that stalls, freezes, errors or vanishes, and reconnects it.

Nothing the source says is trusted. A camera is healthy while its reader keeps delivering frames with
new content (LatestFrameReader.last_fresh): a driver that blocks, OpenCV handing back the last buffer
after an unplug, and a capture thread that died all look the same from here, "no fresh frame for
`stall_s`". Then the reader is replaced by a new one on a newly made source. Later attempts in the same
incident (a failed open, or a source that opens but fails again) wait with exponential backoff,
doubling from `backoff_s` and capped at `backoff_max_s`, so a returning camera is picked up within
about `backoff_max_s` and a dead one is not hammered. A read stuck inside a driver cannot be interrupted: its
reader is abandoned and its daemon thread ends when the read returns.

The camera counts as recovered after `fresh_to_recover` fresh frames, so a source that gives one new
frame per reconnect and then freezes again does not flap between ok and degraded.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.sources.base import Frame, FrameSource
from edge.sources.latest import LatestFrameReader

log = logging.getLogger("edge.camera")


class CameraWatchdog:
    def __init__(self, make_source: Callable[[], FrameSource], *, stall_s: float = 2.0, backoff_s: float = 0.25,
                 backoff_max_s: float = 2.0, fresh_to_recover: int = 5, check_every_s: float = 0.1,
                 beat: Callable[[str], None] = lambda stage: None) -> None:
        self.make_source, self.stall_s = make_source, stall_s
        self.backoff_s, self.backoff_max_s, self.fresh_to_recover = backoff_s, backoff_max_s, fresh_to_recover
        self.check_every_s, self.beat = check_every_s, beat
        self.problem: str | None = None  # why frames are not flowing, while they are not
        self.problem_since: float | None = None  # monotonic time the current outage began
        self.stalls = 0  # incidents: times the camera went from healthy to not
        self.reconnects = 0  # readers replaced on a newly opened source
        self.failed_opens = 0
        self.last_fresh = time.monotonic()
        self.reader: LatestFrameReader | None = None
        # A reader whose read never returned, left behind by a reconnect. At most one is kept: with one
        # stuck already, a second stuck reader is waited for instead of abandoned, so a driver that never
        # returns costs one thread and one descriptor, not one per reconnect.
        self.abandoned: LatestFrameReader | None = None
        self._retired = (0, 0, 0)  # frames captured, dropped and broken reads of readers replaced so far
        self._delay = backoff_s
        self._opened_at = 0.0
        self._captured, self._captured_at = 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="camera-watchdog", daemon=True)

    def start(self) -> CameraWatchdog:
        """Open the first source in the caller's thread (a bad spec fails loudly at start-up), then watch."""
        self._use(LatestFrameReader(self.make_source()).start())
        self._thread.start()
        return self

    @property
    def source(self) -> FrameSource:
        assert self.reader is not None
        return self.reader.source

    @property
    def ended(self) -> bool:
        """A finite source (a file without loop) ran out: not a fault, there is nothing to reconnect."""
        return self.reader is not None and self.reader.ended and self.reader.last_error is None

    @property
    def captured(self) -> int:
        """Frames captured over every reader so far (a counter that survives reconnects)."""
        return self._retired[0] + (self.reader.captured if self.reader else 0)

    @property
    def dropped(self) -> int:
        return self._retired[1] + (self.reader.dropped if self.reader else 0)

    @property
    def read_errors(self) -> int:
        """Broken frames the sources rejected (see FrameSource.read), over every reader so far."""
        return self._retired[2] + (self.reader.source.read_errors if self.reader else 0)

    @property
    def outage_s(self) -> float:
        """How long the camera has been down (0 while frames flow)."""
        return 0.0 if self.problem_since is None else time.monotonic() - self.problem_since

    @property
    def seconds_since_fresh(self) -> float:
        return time.monotonic() - self.last_fresh

    def get(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame from whichever reader is current, or None after `timeout` s without one."""
        deadline = time.monotonic() + timeout
        while True:
            reader = self.reader
            assert reader is not None
            frame = reader.get(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            if frame is not None or self.ended or time.monotonic() >= deadline:
                return frame
            if not reader.running:  # dead reader, not replaced yet: do not spin on it
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        if self.reader is not None:
            self.reader.stop()

    def stats(self) -> dict:
        reader = self.reader
        return {"problem": self.problem, "stalls": self.stalls, "reconnects": self.reconnects,
                "stuck_readers": int(self.abandoned is not None and self.abandoned.running),
                "failed_opens": self.failed_opens, "seconds_since_fresh_frame": round(self.seconds_since_fresh, 2),
                "read_errors": self.read_errors, "repeated_frames": reader.repeated if reader else 0}

    def _use(self, reader: LatestFrameReader) -> None:
        if self.reader is not None:
            self._retired = (self.captured, self.dropped, self.read_errors)
        self.reader, self._opened_at = reader, time.monotonic()
        self._captured, self._captured_at = 0, self._opened_at

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every_s):
            self.beat("check")
            reader = self.reader
            assert reader is not None
            if reader.last_fresh is not None:
                self.last_fresh = max(self.last_fresh, reader.last_fresh)
            if reader.captured != self._captured:
                self._captured, self._captured_at = reader.captured, time.monotonic()
            problem = self._diagnose(reader)
            if problem is None:
                if self.problem and reader.fresh >= self.fresh_to_recover:
                    log.info("camera recovered: %s", self.source.describe())
                    self.problem, self.problem_since, self._delay = None, None, self.backoff_s
                continue
            first_try = self.problem is None
            if first_try:
                self.stalls += 1
                # the outage a user sees began with the last fresh frame, not when it was noticed
                self.problem_since = min(time.monotonic(), reader.last_fresh or self._opened_at)
                log.warning("camera problem: %s; reconnecting", problem)
            self.problem = problem
            self._reconnect(problem, first_try)

    def _diagnose(self, reader: LatestFrameReader) -> str | None:
        if self.ended:
            return None
        if reader.last_error is not None:
            return f"capture failed ({reader.last_error})"
        now = time.monotonic()
        since = reader.last_fresh if reader.last_fresh is not None else self._opened_at
        if now - since <= self.stall_s:
            return None
        if now - self._captured_at <= self.stall_s:
            return f"the same image for {now - since:.1f} s (frozen or stale frames)"
        return f"no frame for {now - since:.1f} s (stalled or unplugged)"

    def _reconnect(self, reason: str, first_try: bool) -> None:
        while not self._stop.is_set():
            if not first_try:
                self._back_off()
            first_try = False
            self.beat("reconnect")
            if not self._let_go_of_reader():
                self.problem = (f"{reason}; the camera driver has not returned from a read, twice: waiting for it "
                                "before reopening (the daemon restarts itself if it never does)")
                continue
            try:
                reader = LatestFrameReader(self.make_source()).start()
            except Exception as e:  # noqa: BLE001 - any driver error just means "not back yet"
                self.failed_opens += 1
                self.problem = f"{reason}; reopening failed ({e}), next try in {self._delay:.2f} s"
                continue
            self.reconnects += 1
            self._use(reader)
            return

    def _let_go_of_reader(self) -> bool:
        """Stop the current reader; False when its read is stuck and another stuck reader is already
        abandoned (the current one is then kept, and waited for, rather than left behind too)."""
        assert self.reader is not None
        if self.abandoned is not None and not self.abandoned.running:
            self.abandoned = None  # its read came back at last and its thread ended
        if self.reader is self.abandoned:  # left behind already; only the reopen failed since
            return True
        if self.reader.stop(timeout=0.5):
            return True
        if self.abandoned is None:
            self.abandoned = self.reader
            return True
        return False

    def _back_off(self) -> None:
        end = time.monotonic() + self._delay
        while time.monotonic() < end and not self._stop.wait(min(0.5, end - time.monotonic())):
            self.beat("backing off")
        self._delay = min(2 * self._delay, self.backoff_max_s)
