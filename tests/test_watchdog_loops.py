"""The inference watchdog's parts in-process: heartbeats and pings, the crash budget, health from checks.
(tests/test_watchdog_daemon.py shows the same through a real daemon and a stand-in for systemd.)"""
from __future__ import annotations

import threading
import time

import pytest

from edge.liveness import CrashBudget, StageFailing, Watchdog
from edge.state import LiveState


def test_pings_only_while_every_heartbeat_is_on_time() -> None:
    sent: list[tuple[float, str]] = []
    watchdog = Watchdog(ping_every_s=0.1, check_every_s=0.05, send=lambda m: sent.append((time.monotonic(), m)) or True)
    loop = watchdog.heartbeat("inference loop", deadline_s=0.3)
    other = watchdog.heartbeat("camera watchdog", deadline_s=5)
    halt = threading.Event()

    def beating() -> None:
        while not halt.wait(0.02):
            other.beat("check")
    threading.Thread(target=beating, daemon=True).start()
    watchdog.start()
    try:
        for _ in range(20):  # a loop that turns
            loop.beat("pipeline")
            time.sleep(0.03)
        assert watchdog.pings >= 4 and watchdog.problem is None
        loop.beat("pipeline")
        hung_at = time.monotonic()
        time.sleep(0.8)  # ...and then hangs in the pipeline
        assert watchdog.problem.startswith("inference loop stuck in 'pipeline' for")
        pings = [t for t, m in sent if m == "WATCHDOG=1"]
        assert max(pings) < hung_at + 0.3 + 0.1 and sum(t > hung_at + 0.4 for t in pings) == 0
        assert any(m.startswith("STATUS=failing: inference loop stuck") for _, m in sent)
        loop.beat("waiting for a frame")  # it comes back
        time.sleep(0.2)
        assert watchdog.problem is None and sent[-1][1] == "WATCHDOG=1"
        assert ("STATUS=running" in [m for _, m in sent])
    finally:
        halt.set()
        watchdog.stop()


def test_without_systemd_nothing_is_sent_but_hangs_are_still_reported() -> None:
    sent: list[str] = []
    watchdog = Watchdog(ping_every_s=None, check_every_s=0.05, send=lambda m: sent.append(m) or True).start()
    watchdog.heartbeat("inference loop", deadline_s=0.1)
    try:
        time.sleep(0.4)
        assert watchdog.pings == 0 and "WATCHDOG=1" not in sent and "inference loop stuck" in watchdog.problem
    finally:
        watchdog.stop()


def test_crash_budget_forgives_a_run_shorter_than_the_limit() -> None:
    budget = CrashBudget("pipeline", limit=3)
    for _ in range(2):
        budget.failed(RuntimeError("odd frame"))
    budget.succeeded()
    budget.failed(RuntimeError("odd frame"))
    budget.failed(RuntimeError("odd frame"))
    with pytest.raises(StageFailing, match="pipeline failed on 3 frames in a row, last: RuntimeError: broken"):
        budget.failed(RuntimeError("broken"))
    assert budget.total == 5


def test_health_takes_the_worst_check_and_names_the_component() -> None:
    state = LiveState()
    problems: dict[str, tuple[str, str] | None] = {"camera": None, "watchdog": None}
    for name in problems:
        state.watch(name, lambda name=name: problems[name])
    assert state.health().reasons == ["no frame processed yet"]
    problems["camera"] = ("degraded", "no frame for 2.1 s (stalled or unplugged)")
    assert state.health().status == "degraded"
    problems["watchdog"] = ("failing", "inference loop stuck in 'pipeline' for 12.0 s (deadline 10 s)")
    health = state.health()
    assert health.status == "failing"
    assert health.reasons[:2] == ["camera: no frame for 2.1 s (stalled or unplugged)",
                                  "watchdog: inference loop stuck in 'pipeline' for 12.0 s (deadline 10 s)"]


def test_the_kiosk_waits_for_a_first_picture_and_refuses_with_a_dead_camera(monkeypatch):
    import edge.app as app
    from edge.pipeline import FrameResult
    from edge.sessions.api import NotReady
    monkeypatch.setattr(app, "FIRST_FRAME_WAIT_S", 0.3)
    state = LiveState()
    with pytest.raises(NotReady, match="has not sent a picture yet") as e:
        app.kiosk_ready(state)
    assert "no frame processed" in e.value.staff
    threading.Timer(0.1, lambda: state.record(FrameResult(0, 0.0, 64, 48, [], None), 1, 0)).start()
    app.kiosk_ready(state)  # the first frame arrived while it waited
    state.watch("camera", lambda: ("degraded", "no frame for 3.0 s (stalled or unplugged)"))
    with pytest.raises(NotReady, match="camera is not working") as e:
        app.kiosk_ready(state)
    assert "camera: no frame for 3.0 s" in e.value.staff and "python -m edge check" in e.value.staff
    state.fail("models: sha256 mismatch")
    with pytest.raises(NotReady, match="not working right now"):
        app.kiosk_ready(state)
