"""The daemon's side of model updates: follow the models link and swap the pipeline between two frames.

edge/bundles/store.py installs a bundle and swaps the models.dir link; this watcher notices the new target,
loads and self-tests it off the inference thread, and hands the loop the new pipeline, which takes over
at the next frame: the web server and the camera never stop. A bundle that fails here is not used, and
the link goes back to the bundle that runs, so a restart does not pick the broken one either.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from edge.bundles.store import Layout, revert
from edge.bundles.verify import check_bundle
from edge.config import EdgeConfig
from edge.pipeline import FrameResult, Pipeline
from edge.state import LiveState
from edge.tflite import ModelLoadError

log = logging.getLogger("edge.models")
POLL_S = 2.0  # a readlink every 2 s costs nothing; an update takes effect within that


class LivePipeline:
    """What the inference loop holds: it forwards to `current`, which the watcher replaces. A frame reads
    `current` once, so it runs wholly on the old models or wholly on the new ones."""

    def __init__(self, pipeline: Pipeline):
        self.current = pipeline

    def process(self, image, timestamp: float, index: int = 0) -> FrameResult:
        return self.current.process(image, timestamp, index)

    def __getattr__(self, name: str):  # detector, emotion, crop, settings, tracker: the current pipeline's
        return getattr(self.current, name)


class ModelWatcher:
    def __init__(self, config: EdgeConfig, state: LiveState):
        self.config, self.state = config, state
        self.layout = Layout.of(config)
        self.running: Path | None = None
        self.live: LivePipeline | None = None
        self.problem: str | None = None  # the last update that failed, until one succeeds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="models", daemon=True)

    def load(self) -> LivePipeline:
        """The start-up load: the bundle models.dir points at; if that fails and a previous bundle exists
        (an update installed while the daemon was stopped, then corrupted), the previous one."""
        target = self.layout.target()
        if target is None:
            raise ModelLoadError(f"{self.layout.link}: the models folder is missing.")
        try:
            pipeline, summary = check_bundle(target, self.config, installing=False)
        except ModelLoadError as e:
            previous = self.layout.previous_target()
            if previous is None or previous == target or not revert(self.layout, target, previous):
                raise
            self.problem = f"{target.name} failed ({e}); rolled back to {previous.name}"
            log.error("models: %s", self.problem)
            target = previous
            pipeline, summary = check_bundle(target, self.config, installing=False)
        log.info("models: %s (%s)", target.name, summary)
        self.running, self.state.models, self.live = target, pipeline.models, LivePipeline(pipeline)
        return self.live

    def start(self) -> ModelWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def check(self) -> tuple[str, str] | None:
        """For LiveState.watch: a failed update leaves the booth degraded (still serving) until one succeeds."""
        return ("degraded", self.problem) if self.problem else None

    def _run(self) -> None:
        failed = None
        while not self._stopping.wait(POLL_S):
            target = self.layout.target()  # None for a moment while a plain models folder is adopted
            if target is None or target in (self.running, failed):
                continue
            try:
                pipeline, summary = check_bundle(target, self.config, installing=False)
            except Exception as e:  # whatever breaks loading a bundle, the running one stays
                reverted = revert(self.layout, target, self.running)
                self.problem = (f"update to {target.name} failed ({e}); kept {self.running.name}"
                                + ("" if reverted else f"; could not point {self.layout.link} back, fix it by hand"))
                log.error("models: %s", self.problem)
                failed = target
                continue
            self._swap(pipeline)
            log.info("models: switched from %s to %s (%s)", self.running.name, target.name, summary)
            self.running, self.problem, failed = target, None, None

    def _swap(self, pipeline: Pipeline) -> None:
        # a method of its own so that no local outlives it holding the old pipeline and its interpreters
        if pipeline.emotion.labels == self.live.current.emotion.labels:
            pipeline.tracker = self.live.current.tracker  # faces keep their ids: a kiosk session goes on
        self.live.current, self.state.models = pipeline, pipeline.models
