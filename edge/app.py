"""The daemon's composition root: each step of start-up, in order, then the inference loop."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import cv2

from edge.config import EdgeConfig
from edge.crop import CropSpec
from edge.detector import FaceDetector
from edge.emotion import EmotionModel
from edge.manifest import model_entry
from edge.pipeline import Pipeline, PipelineSettings
from edge.sd_notify import notify, watchdog_interval_s
from edge.sessions.advice import AdviceRules
from edge.sessions.api import sessions_blueprint
from edge.sessions.recorder import SessionRecorder
from edge.sessions.store import SessionStore
from edge.sources import LatestFrameReader, SourceError, open_source
from edge.state import LiveState
from edge.tflite import ModelLoadError
from edge.web.app import create_app
from edge.web.server import WebServer

log = logging.getLogger("edge")
PREVIEW_EVERY = 10  # frames between preview images: a few per second is enough for an operator


def load_pipeline(config: EdgeConfig) -> tuple[Pipeline, list[dict]]:
    """Models from the manifest (sha256 checked) and the pipeline around them."""
    det, det_path = model_entry("face_detection", config.models.detector, config.models.dir)
    emo, emo_path = model_entry("emotion", config.models.emotion, config.models.dir)
    detector = FaceDetector(det_path, det["input"]["mean"], det["input"]["std"], config.models.min_face_score,
                            config.models.threads)
    emotion = EmotionModel(emo_path, emo["input"]["mean"], emo["input"]["std"], emo["labels"], config.models.threads)
    p = config.pipeline
    settings = PipelineSettings(p.smoothing_window_s, p.track_iou, p.track_max_missed, p.uncertain_below, p.max_faces)
    models = [{k: m.get(k) for k in ("name", "task", "version", "precision", "sha256")} for m in (det, emo)]
    return Pipeline(detector, emotion, CropSpec.from_manifest(emo), settings), models


def open_reader(config: EdgeConfig) -> LatestFrameReader:
    """The configured source in its capture thread; the fallback source if the camera cannot open."""
    s = config.source
    options = {"loop": s.loop, "realtime": s.realtime, "width": s.width, "height": s.height, "fps": s.fps}
    try:
        return LatestFrameReader(open_source(s.spec, **options)).start()
    except SourceError as e:
        if not s.fallback_spec:
            raise
        log.warning("source %s unavailable (%s); using fallback %s", s.spec, e, s.fallback_spec)
        return LatestFrameReader(open_source(s.fallback_spec, **options)).start()


class Daemon:
    def __init__(self, config: EdgeConfig):
        self.config = config
        self.stopping = threading.Event()

    def run(self) -> int:
        state = LiveState()
        s = self.config.sessions
        store = SessionStore(s.db_path, retention_days=s.retention_days)
        self.recorder = SessionRecorder(store, retention_days=s.retention_days)
        sessions = sessions_blueprint(store, self.recorder, AdviceRules(s.advice))
        web = WebServer(create_app(state, self.config.web.preview, sessions), self.config.web.host,
                        self.config.web.port, self.config.web.threads)
        web.start()  # first, so that /api/health can say why anything after this fails
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        print(f"fer-edge: dashboard at {web.url}", flush=True)
        try:
            pipeline, state.models = load_pipeline(self.config)
            reader = open_reader(self.config)
        except (ModelLoadError, SourceError) as e:
            log.error("%s", e)
            print(f"error: {e}", file=sys.stderr, flush=True)
            state.fail(str(e))
            notify(f"READY=1\nSTATUS=failing: {e}")
            while not self.stopping.wait(1.0):
                pass  # keep answering /api/health with the reason; no watchdog pings
            web.stop()
            self.recorder.close()
            store.close()
            return 2
        state.source = reader.source.describe()
        log.info("source %s, models %s", state.source, ", ".join(m["name"] for m in state.models))
        notify("READY=1")
        try:
            self.loop(pipeline, reader, state)
        finally:
            notify("STOPPING=1")
            reader.stop()
            web.stop()
            self.recorder.close()
            store.close()
        # a camera that failed (rather than a file that ended) exits non-zero so systemd restarts us
        return 1 if reader.last_error and not self.stopping.is_set() else 0

    def loop(self, pipeline: Pipeline, reader: LatestFrameReader, state: LiveState) -> None:
        ping_every, last_ping = watchdog_interval_s(), 0.0
        while not self.stopping.is_set():
            frame = reader.get(timeout=1.0)
            if frame is None:
                if reader.ended or reader.last_error:
                    state.record_error(reader.last_error or "the source ended", source_problem=True)
                    if not reader.running:
                        break
                continue
            try:
                result = pipeline.process(frame.image, frame.timestamp, frame.index)
            except ValueError as e:  # a broken frame: report it, keep serving
                state.record_error(str(e))
                continue
            state.record(result, reader.captured, reader.dropped)
            if self.config.web.preview and frame.index % PREVIEW_EVERY == 0:
                state.preview_jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
            self.recorder.observe(result)  # kiosk session aggregates; never raises
            # ping systemd's watchdog only while results flow: a stuck pipeline gets restarted
            if ping_every and time.monotonic() - last_ping > ping_every:
                notify("WATCHDOG=1")
                last_ping = time.monotonic()
