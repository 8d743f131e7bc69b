"""The inference watchdog: the daemon's loops prove they still turn, and systemd is pinged only then.

Each watched loop (inference, camera watchdog) calls `beat(stage)` on its Heartbeat as it enters a
step. A separate thread checks every heartbeat against its deadline. While all are on time it sends
WATCHDOG=1 every half WatchdogSec (systemd's advice); when one is late it stops pinging, so systemd
kills and restarts the daemon after WatchdogSec, and /api/health says which loop hangs in which step.
A hang is the one fault a process cannot fix from inside: a thread stuck in native code cannot be
interrupted. Restarts are bounded by the unit's StartLimitBurst.

A stage that raises instead of hanging is retried in-process (CrashBudget): one bad frame must not cost
a restart, but a stage that fails on every frame gives up after `limit` failures in a row, and the
daemon exits for systemd to start it afresh.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.sd_notify import notify

log = logging.getLogger("edge.liveness")


class Heartbeat:
    def __init__(self, name: str, deadline_s: float) -> None:
        self.name, self.deadline_s = name, deadline_s
        self.stage, self.at = "starting", time.monotonic()

    def beat(self, stage: str) -> None:
        self.stage, self.at = stage, time.monotonic()  # two stores: cheap enough for every frame

    def lateness(self) -> str | None:
        age = time.monotonic() - self.at
        if age <= self.deadline_s:
            return None
        return f"{self.name} stuck in '{self.stage}' for {age:.1f} s (deadline {self.deadline_s:g} s)"


class Watchdog:
    def __init__(self, ping_every_s: float | None, check_every_s: float = 0.5,
                 send: Callable[[str], bool] = notify) -> None:
        self.ping_every_s, self.check_every_s, self.send = ping_every_s, check_every_s, send
        self.heartbeats: list[Heartbeat] = []
        self.pings = 0
        self.problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def heartbeat(self, name: str, deadline_s: float) -> Heartbeat:
        hb = Heartbeat(name, deadline_s)
        self.heartbeats.append(hb)
        return hb

    def stats(self) -> dict:
        return {"pings": self.pings, "problem": self.problem}

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        last_ping = 0.0
        while not self._stop.wait(self.check_every_s):
            late = [p for p in (hb.lateness() for hb in self.heartbeats) if p]
            if late:
                if self.problem is None:
                    log.error("%s; no more watchdog pings, systemd will restart the daemon", "; ".join(late))
                    self.send(f"STATUS=failing: {'; '.join(late)}")
                self.problem = "; ".join(late)
                continue
            if self.problem is not None:
                log.warning("all loops turning again")
                self.send("STATUS=running")
                self.problem = None
            if self.ping_every_s and time.monotonic() - last_ping >= self.ping_every_s:
                self.send("WATCHDOG=1")
                self.pings += 1
                last_ping = time.monotonic()


class StageFailing(RuntimeError):
    """A stage failed on `limit` frames in a row: restarting the process is the remaining remedy."""


class CrashBudget:
    def __init__(self, stage: str, limit: int) -> None:
        self.stage, self.limit = stage, limit
        self.in_a_row = 0
        self.total = 0

    def failed(self, exc: BaseException) -> None:
        """Count a failure, log it (with the traceback for the first of a run); raise StageFailing when spent."""
        self.in_a_row += 1
        self.total += 1
        if self.in_a_row == 1:
            log.error("%s failed; skipping the frame", self.stage, exc_info=exc)
        if self.in_a_row >= self.limit:
            raise StageFailing(f"{self.stage} failed on {self.in_a_row} frames in a row, last: "
                               f"{type(exc).__name__}: {exc}") from exc

    def succeeded(self) -> None:
        if self.in_a_row:
            log.warning("%s works again after %d failed frame(s)", self.stage, self.in_a_row)
            self.in_a_row = 0
