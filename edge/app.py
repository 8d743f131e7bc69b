"""The daemon's composition root: each step of start-up, in order, then the inference loop."""
from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time

import cv2

from edge.allocator import tune_allocator
from edge.bundles.watch import ModelWatcher
from edge.config import EdgeConfig
from edge.history.intervals import History
from edge.liveness import CrashBudget, Heartbeat, StageFailing, Watchdog
from edge.monitoring.monitor import Monitor
from edge.pipeline import Pipeline
from edge.sd_notify import notify, watchdog_interval_s
from edge.sessions.advice import AdviceRules
from edge.sessions.api import NotReady, sessions_blueprint
from edge.sessions.recorder import SessionRecorder
from edge.sessions.store import SessionStore
from edge.sources import CameraWatchdog, SourceError, make_source
from edge.sources.info import source_info
from edge.state import LiveState
from edge.telemetry.mqtt import MqttPublisher
from edge.tflite import ModelLoadError
from edge.web.app import create_app
from edge.web.server import WebServer

log = logging.getLogger("edge")
PREVIEW_EVERY = 10  # frames between preview images: a few per second is enough for an operator


def open_camera(config: EdgeConfig, beat: Heartbeat) -> tuple[CameraWatchdog, str | None]:
    """The configured source under the camera watchdog, or the fallback source if the camera cannot open at
    start; with why the fallback runs (None when the configured source does)."""
    s, w = config.source, config.watchdog
    options = {"loop": s.loop, "realtime": s.realtime, "width": s.width, "height": s.height, "fps": s.fps}

    def watched(spec: str) -> CameraWatchdog:
        return CameraWatchdog(lambda: make_source(spec, **options), stall_s=w.stall_s, backoff_s=w.reconnect_min_s,
                              backoff_max_s=w.reconnect_max_s, beat=beat.beat).start()
    try:
        return watched(s.spec), None
    except SourceError as e:
        if not s.fallback_spec:
            raise
        log.warning("source %s unavailable (%s); using fallback %s", s.spec, e, s.fallback_spec)
        return watched(s.fallback_spec), f"{s.spec} could not be opened ({e})"


class CameraGone(Exception):
    """The camera stayed down past watchdog.camera_give_up_s: in-process reconnects did not bring it back."""


def camera_health(camera: CameraWatchdog, failing_after_s: float) -> tuple[str, str] | None:
    """Degraded while the watchdog reconnects; failing once the outage lasts past `failing_after_s`."""
    if not camera.problem:
        return None
    outage = camera.outage_s
    if outage > failing_after_s:
        return "failing", f"{camera.problem} (down for {outage:.0f} s)"
    return "degraded", camera.problem


STAFF_HINT = "see the dashboard's health, or run `python -m edge check`"
FIRST_FRAME_WAIT_S = 10.0  # a Start pressed while the daemon still starts waits for its first picture


def kiosk_ready(state: LiveState) -> None:
    """Raises NotReady while a practice session would record nothing: the candidate is told in plain words,
    staff what to look at (the kiosk shows both)."""
    if state.fatal:
        raise NotReady("The booth is not working right now. Please ask a member of staff for help.",
                       f"the daemon failed: {state.fatal}; {STAFF_HINT}")
    camera = next((r for r in state.health().reasons if r.startswith("camera:")), None)
    if camera:
        raise NotReady("The camera is not working right now, so your practice could not be recorded. Please ask "
                       "a member of staff for help.", f"{camera}; {STAFF_HINT}")
    deadline = time.monotonic() + FIRST_FRAME_WAIT_S
    while state.latest is None and not state.fatal and time.monotonic() < deadline:
        state.wait_for_change(state.version, deadline - time.monotonic())
    if state.latest is None:
        raise NotReady("The camera has not sent a picture yet. Please wait a moment and press Start again.",
                       f"no frame processed since the daemon started; {STAFF_HINT}")


class Daemon:
    def __init__(self, config: EdgeConfig):
        self.config = config
        self.stopping = threading.Event()

    def run(self) -> int:
        tune_allocator()  # before any thread starts: months of camera reconnects must not creep memory up
        # everything started below is stopped in reverse order on every way out, failed start-up included
        with contextlib.ExitStack() as running:
            state = LiveState()
            monitor = Monitor(self.config.monitoring, self.config.models, state)
            state.report("monitoring", monitor.snapshot)
            self.history = History(self.config.history)  # the dashboard's charts: the last hour at most, in memory
            state.report("history", self.history.snapshot)
            s = self.config.sessions
            if s.operator_name is None or s.operator_contact is None:
                log.warning("sessions.operator_name and sessions.operator_contact are unset: the candidates' "
                            "privacy page (/privacy) asks them to find staff instead of naming who runs the booth")
            store = SessionStore(s.db_path, retention_days=s.retention_days)
            running.callback(store.close)
            self.recorder = SessionRecorder(store, retention_days=s.retention_days)
            running.callback(self.recorder.close)
            state.watch("sessions", self.recorder.problem)
            state.report("sessions", self.recorder.stats)
            sessions = sessions_blueprint(store, self.recorder, AdviceRules(s.advice), lambda: kiosk_ready(state))
            w = self.config.web
            try:
                web = WebServer(create_app(state, w, sessions, notice=s), w.host, w.port, w.threads,
                                w.max_streams, w.idle_timeout_s)
            except OSError as e:  # the port is taken, or the address is not this machine's
                print(f"error: cannot listen on {w.host}:{w.port} ({e.strerror or e}): another program, or another "
                      f"fer-edge, holds it (see `ss -ltnp 'sport = :{w.port}'`); stop it or set web.port "
                      "(FER_EDGE_PORT)", file=sys.stderr, flush=True)
                return 2
            web.start()  # first, so that /api/health can say why anything after this fails
            running.callback(web.stop)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stopping.set())
            print(f"fer-edge: dashboard at {web.url}", flush=True)
            # telemetry starts before the models load, so the fleet also hears of a booth that fails to start
            if self.config.telemetry.enabled:
                running.callback(MqttPublisher(self.config.telemetry, state).start().stop)
            models = ModelWatcher(self.config, state)  # hot-swaps bundles installed by update-models
            state.watch("models", models.check)
            watchdog = Watchdog(watchdog_interval_s())
            state.watch("watchdog", lambda: ("failing", watchdog.problem) if watchdog.problem else None)
            state.report("loops", watchdog.stats)
            deadline = self.config.watchdog.stage_deadline_s
            try:
                pipeline = models.load()
                camera, fallback = open_camera(self.config, watchdog.heartbeat("camera watchdog", deadline))
            except (ModelLoadError, SourceError) as e:
                return self.serve_failure(state, e)
            running.callback(camera.stop)
            state.watch("camera", lambda: camera_health(camera, self.config.watchdog.camera_failing_s))
            state.report("camera", camera.stats)
            state.source = camera.source.describe()
            source = source_info(camera.source, fallback)  # a reconnect opens the same spec: the same kind
            state.report("source", lambda: source)
            log.info("source %s, models %s", state.source, ", ".join(m["name"] for m in state.models))
            notify("READY=1")
            heartbeat = watchdog.heartbeat("inference loop", deadline)
            watchdog.start()  # only once start-up worked: a daemon that failed to start gets no pings
            running.callback(watchdog.stop)
            models.start()
            running.callback(models.stop)
            running.callback(notify, "STOPPING=1")
            try:
                self.loop(pipeline, camera, monitor, state, heartbeat)
            except StageFailing as e:  # in-process retries are spent: a fresh process is the remaining remedy
                log.error("%s; exiting for systemd to restart the daemon", e)
                state.fail(str(e))
                return 3
            except CameraGone as e:
                print(f"error: {e}", file=sys.stderr, flush=True)
                state.fail(str(e))
                return 4
            return 0

    def serve_failure(self, state: LiveState, error: Exception) -> int:
        """Start-up failed: answer /api/health with the reason for a while (no watchdog pings), then exit
        non-zero so that systemd tries again after its back-off (systemd/fer-edge.service)."""
        log.error("%s", error)
        print(f"error: {error}", file=sys.stderr, flush=True)
        state.fail(str(error))
        notify(f"READY=1\nSTATUS=failing: {error}")
        self.stopping.wait(self.config.watchdog.failed_start_exit_s)
        return 2

    def loop(self, pipeline: Pipeline, camera: CameraWatchdog, monitor: Monitor, state: LiveState,
             heartbeat: Heartbeat) -> None:
        crashes = CrashBudget("pipeline", self.config.watchdog.stage_failures_limit)
        give_up = self.config.watchdog.camera_give_up_s
        while not self.stopping.is_set():
            heartbeat.beat("waiting for a frame")  # camera problems are the camera watchdog's, not a hang
            frame = camera.get(timeout=1.0)
            if camera.outage_s > give_up:  # also a frozen camera, whose repeated frames keep coming
                raise CameraGone(f"the camera has been down for {camera.outage_s:.0f} s ({camera.problem}); "
                                 f"exiting for systemd to restart the daemon (watchdog.camera_give_up_s = "
                                 f"{give_up:g})")
            if frame is None:
                if camera.ended:
                    break
                continue
            heartbeat.beat("pipeline")
            try:
                result = pipeline.process(frame.image, frame.timestamp, frame.index)
            except ValueError as e:  # a broken frame: report it, keep serving
                state.record_error(str(e))
                continue
            except Exception as e:  # a crashing stage: skip the frame; StageFailing after a run of them
                state.record_error(f"pipeline failed: {type(e).__name__}: {e}")
                crashes.failed(e)
                continue
            crashes.succeeded()
            heartbeat.beat("publishing")
            state.record(result, camera.captured, camera.dropped)
            if self.config.web.preview and frame.index % PREVIEW_EVERY == 0:
                state.preview_jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
            self.recorder.observe(result)  # kiosk session aggregates; never raises
            self.history.observe(result)  # the dashboard's charts
            monitor.observe(result)  # input quality, drift and health windows
