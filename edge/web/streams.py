"""The /api/stream fan-out: live results to many open dashboards and kiosk pages without starving the API.

Each event stream holds one of waitress's worker threads for as long as it is open, so the server gets one
thread per allowed stream on top of its request workers (edge/web/server.py), and streams beyond
`web.max_streams` are refused with 503 and a reason instead of queueing behind the others. The threads
wait on the live state's condition, so an open stream costs a sleeping thread, not CPU. The status JSON
is built once per new result and shared by every stream, and a stream sends at most `web.stream_hz`
events a second: fifty viewers cost about what one did, and the pipeline keeps its frame rate.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from edge.state import LiveState

HEARTBEAT_S = 15  # a comment line when nothing changed: keeps proxies and browsers from closing the stream


class StreamsFull(Exception):
    """All stream slots are taken; the message says how many and what to do."""


class EventStreams:
    def __init__(self, state: LiveState, limit: int, rate_hz: float):
        self.state, self.limit, self.min_gap_s = state, limit, 1.0 / rate_hz
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._snapshot: tuple[int, str] = (-1, "")
        self.open_count = 0

    def open(self) -> Iterator[str]:
        """A stream's events; raises StreamsFull when `limit` streams are open already."""
        if not self._slots.acquire(blocking=False):
            raise StreamsFull(f"{self.limit} event streams are open already (web.max_streams): close a dashboard "
                              "or kiosk tab, or poll /api/status instead")
        with self._lock:
            self.open_count += 1
        return self._events()

    def _events(self) -> Iterator[str]:
        # The slot is given back when the server closes the generator (client gone, or server stopping).
        try:
            seen, last_sent = -1, 0.0
            while True:
                version = self.state.wait_for_change(seen, HEARTBEAT_S)
                if version == seen:
                    yield ": heartbeat\n\n"
                    continue
                wait = last_sent + self.min_gap_s - time.monotonic()
                if wait > 0:  # at most rate_hz events; the newest result is sent after the pause
                    time.sleep(wait)
                seen, text = self.snapshot()
                last_sent = time.monotonic()
                yield text
        finally:
            with self._lock:
                self.open_count -= 1
            self._slots.release()

    def snapshot(self) -> tuple[int, str]:
        """(version, SSE event) of the newest result, built once per version for every stream."""
        version = self.state.version
        with self._lock:
            if self._snapshot[0] != version:
                self._snapshot = (version, f"data: {json.dumps(self.state.status())}\n\n")
            return self._snapshot
