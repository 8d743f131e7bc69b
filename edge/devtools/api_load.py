"""A local client that keeps a daemon's API busy while it is measured (the soak's `api` fault): status,
health, metrics and the session list in turn, and kiosk sessions; it counts what a user of the API would see."""
from __future__ import annotations

import threading
import time

from edge.devtools.daemon import DaemonProcess


class ApiLoad(threading.Thread):
    """A local client: status, health, metrics and session listing in turn, and (`sessions`) a kiosk session
    every few s. A session refused while the camera is down (503 with the reason) is counted as refused, not
    as a failure: that is the kiosk doing its job."""

    def __init__(self, daemon: DaemonProcess, session_every_s: float = 8.0, sessions: bool = True) -> None:
        super().__init__(name="api-load", daemon=True)
        self.daemon, self.session_every_s, self.run_sessions = daemon, session_every_s, sessions
        self.requests, self.failures, self.sessions, self.refused, self.unreachable = 0, [], 0, 0, 0
        self.latencies: list[float] = []
        self.halt = threading.Event()

    def call(self, method: str, path: str, body: dict | None = None, expect: int = 200) -> object:
        start = time.monotonic()
        code, result = self.daemon.request(method, path, body)
        self.latencies.append(time.monotonic() - start)
        self.requests += 1
        # 503 from /api/health is an answer (the daemon says it is failing), not a failed request
        if code == 0:  # nothing listening or cut off: the daemon is down (a restart); counted, not a wrong answer
            self.unreachable += 1
        elif code == 503 and method == "POST" and path == "/api/sessions":
            self.refused += 1
        elif code != expect and not (path == "/api/health" and code == 503):
            self.failures.append(f"{method} {path}: {code} {str(result)[:200]}")
        return result

    def run(self) -> None:
        next_session = time.monotonic() + 2
        while not self.halt.wait(0.1):
            for path in ("/api/status", "/api/health", "/metrics", "/api/sessions"):
                self.call("GET", path)
            if self.run_sessions and time.monotonic() >= next_session:
                next_session = time.monotonic() + self.session_every_s
                session = self.call("POST", "/api/sessions", {"alias": "soak", "questions": ["One?", "Two?"]},
                                    expect=201)
                if isinstance(session, dict) and "id" in session:
                    self.call("POST", f"/api/sessions/{session['id']}/questions", {"index": 1})
                    self.halt.wait(2.0)
                    self.call("POST", f"/api/sessions/{session['id']}/stop")
                    self.sessions += 1

    def report(self) -> dict:
        ordered = sorted(self.latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000 if ordered else None
        return {"requests": self.requests, "failed": len(self.failures), "failures": self.failures[:20],
                "sessions_finished": self.sessions, "sessions_refused_camera_down": self.refused,
                "unanswered_daemon_down": self.unreachable, "latency_p95_ms": None if p95 is None else round(p95, 1)}
