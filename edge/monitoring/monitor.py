"""The monitor: fed every frame result by the inference loop, it keeps sliding windows of input quality,
predictions and health and judges each figure ok / warn / alert against the configured limits.

It reads only what the pipeline reports (boxes, crops, smoothed expressions, timings), so it follows
model updates without hooks: when LiveState names another emotion model, it loads that model's
reference and starts its prediction window afresh. Per frame it counts faces, expressions and latency;
a few times a second (quality_samples_per_s) it also measures the faces' crops: the eye-aligned ones the
emotion model saw, which the reference's training faces stand for. Medians, percentiles and drift are
computed once a second, and `snapshot()` hands out the latest. Nothing in a snapshot identifies a person:
aggregates only.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edge.config import ModelsConfig
from edge.device_info import hottest_c
from edge.manifest import model_entry
from edge.monitoring.drift import kl, psi, shares
from edge.monitoring.quality import crop_quality
from edge.monitoring.reference import Reference, ReferenceStatsError, load_reference
from edge.monitoring.settings import Limits, MonitoringSettings
from edge.pipeline import FrameResult
from edge.state import LiveState
from edge.tflite import ModelLoadError
from edge.windows import SlidingCounts, TimedRows

log = logging.getLogger("edge.monitoring")
EVALUATE_EVERY_S = 1.0
SEVERITY = {"unknown": -1, "ok": 0, "warn": 1, "alert": 2}


@dataclass(frozen=True)
class Metric:
    name: str
    group: str  # quality | predictions | health
    label: str
    unit: str
    low_hint: str = ""  # what a low value means, where the metric has _low limits
    high_hint: str = ""

    def limits(self, settings: MonitoringSettings) -> dict[str, Limits]:
        return {side: getattr(settings, f"{self.name}_{side}") for side in ("low", "high")
                if f"{self.name}_{side}" in MonitoringSettings.model_fields}


METRICS = (
    Metric("brightness", "quality", "Face brightness", "grey level",
           low_hint="faces too dark: light the person's face",
           high_hint="faces overexposed: reduce the light or the camera's exposure"),
    Metric("contrast", "quality", "Face contrast", "grey level",
           low_hint="faces flat: check for back light, haze or a dirty lens"),
    Metric("sharpness", "quality", "Face sharpness", "",
           low_hint="faces blurred: clean or refocus the lens, check for motion blur"),
    Metric("face_size", "quality", "Face size", "px",
           low_hint="faces small: people stand far from the camera, or it is zoomed out"),
    Metric("no_face_share", "quality", "Frames without a face", "share",
           high_hint="no face in most frames: nobody in front of the camera, or it is covered or misaimed"),
    Metric("prediction_psi", "predictions", "Expression drift (PSI)", "",
           high_hint="predicted expressions moved away from the training mix: check lighting and camera angle"),
    Metric("confidence_drop", "predictions", "Confidence drop", "",
           high_hint="the model is less sure than on its training faces: the input differs from what it learned"),
    Metric("fps", "health", "Frame rate", "fps", low_hint="the pipeline runs slowly: check CPU load and throttling"),
    Metric("latency_p95_ms", "health", "Latency p95", "ms", high_hint="slow frames: check CPU load and temperature"),
    Metric("error_rate", "health", "Failed frames", "share",
           high_hint="frames fail in the pipeline: see the daemon log"),
    Metric("temperature_c", "health", "Temperature", "°C",
           high_hint="the device runs hot and will throttle: improve its cooling"),
)


def judge(value: float | None, limits: dict[str, Limits]) -> tuple[str, str | None]:
    """(state, why): alert beyond an alert limit, warn beyond a warn limit, else ok; unknown without a value."""
    if value is None:
        return "unknown", None
    low, high = limits.get("low"), limits.get("high")
    for state, i in (("alert", 1), ("warn", 0)):
        if low is not None and value < low[i]:
            return state, f"below {low[i]:g}"
        if high is not None and value > high[i]:
            return state, f"above {high[i]:g}"
    return "ok", None


def worst(states) -> str:
    return max(states, key=SEVERITY.__getitem__, default="unknown")


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


class Baseline(NamedTuple):
    """The booth's own first faces, read as the training reference's prediction figures are."""
    labels: tuple[str, ...]
    class_counts: np.ndarray
    confidence_mean: float


class Monitor:
    def __init__(self, settings: MonitoringSettings, models: ModelsConfig, state: LiveState, clock=time.monotonic):
        s = self.settings = settings
        self.models, self.state, self._clock = models, state, clock
        self.reference: Reference | None = None
        self.reference_error: str | None = "no emotion model running yet"
        self._model_sha: str | None = None  # the emotion model the prediction window and reference belong to
        self._labels: dict[str, int] = {}
        self._faces = TimedRows(s.quality_window_s, 4)  # brightness, contrast, sharpness, face size
        self._frames = TimedRows(s.quality_window_s, 1)  # 1 when the frame had no face
        self._latency = TimedRows(s.health_window_s, 1)  # pipeline total, ms
        self._error_counts = TimedRows(s.health_window_s, 1)  # LiveState's error counter, sampled per evaluation
        self._predictions: SlidingCounts | None = None  # per-label counts, then the sum of confidences
        self._baseline: np.ndarray | None = None  # the booth's first faces: per-label counts, then confidences
        self._frames_seen = 0
        self._measure_at = -math.inf  # when faces are next measured (quality_samples_per_s)
        self._lock = threading.Lock()  # guards the windows: held for appends and copies only
        self._evaluation = threading.Lock()  # one evaluation at a time (inference loop or web thread)
        self._evaluated_at = -math.inf
        self._snapshot: dict = {}
        self._states: dict[str, str] = {}

    def observe(self, result: FrameResult, now: float | None = None) -> None:
        """One processed frame (called by the inference loop right after the pipeline)."""
        now = self._clock() if now is None else now
        if now - self._evaluated_at >= EVALUATE_EVERY_S:
            self._evaluate(now)  # before this frame counts: a model change starts a fresh prediction window
        measure = bool(result.faces) and now >= self._measure_at
        # the crops the emotion model saw; a face built without one (not by the pipeline) has no figures to add
        quality = [(*crop_quality(face.crop), max(face.box[2], face.box[3]))
                   for face in (result.faces if measure else ()) if face.crop is not None]
        with self._lock:
            self._frames_seen += 1
            self._frames.add(now, 0.0 if result.faces else 1.0)
            self._latency.add(now, result.timings_ms.get("total", 0.0))
            if measure:  # on a steady grid, so that the rate holds whatever the frame rate; restarted after a gap
                period = 1 / self.settings.quality_samples_per_s
                self._measure_at = now + period if now - self._measure_at > period else self._measure_at + period
            for row in quality:
                self._faces.add(now, *row)
            for face in result.faces:
                top = max(face.probabilities, key=face.probabilities.__getitem__)
                self._count_prediction(now, top, face.confidence, face.probabilities)

    def _count_prediction(self, now: float, label: str, confidence: float, labels) -> None:
        if self._predictions is None:  # the first face of a model: the reference's labels, else the model's
            self._labels = {name: i for i, name in enumerate(self.reference.labels if self.reference else labels)}
            self._predictions = SlidingCounts(self.settings.drift_window_s, len(self._labels) + 1)
            self._baseline = np.zeros(len(self._labels) + 1)
        if label not in self._labels:
            return  # a label the reference does not know: the reference check against the manifest reports it
        if self.settings.drift_reference == "baseline" and self._baseline[:-1].sum() < self.settings.baseline_faces:
            self._baseline[self._labels[label]] += 1  # still learning what this booth's faces look like
            self._baseline[-1] += confidence
            return
        self._predictions.add(now, self._labels[label])
        self._predictions.add(now, -1, confidence)

    def snapshot(self, now: float | None = None) -> dict:
        """The latest figures and states, at most a second old (read-only: shared between callers).

        {"state": "ok|warn|alert|unknown", "reasons": [str], "windows_s": {"quality", "drift", "health"},
         "reference": {"file", "model"} | {"error": str},
         "metrics": {name: {"group", "label", "unit", "state", "value", "samples", "needs", "limits", ...}}}
        Metrics come in display order: quality, predictions, health.
        """
        now = self._clock() if now is None else now
        # also while the first evaluation is under way in another thread: its start time is set before its
        # snapshot, and an empty one made /metrics fail (KeyError) on a daemon just started
        if now - self._evaluated_at >= EVALUATE_EVERY_S or not self._snapshot:
            self._evaluate(now)
        return self._snapshot

    def _evaluate(self, now: float) -> None:
        with self._evaluation:
            self._follow_model()
            self._publish(self._figures(now))

    def _follow_model(self) -> None:
        """Load the running emotion model's reference when it changes (start-up, model update)."""
        running = next((m for m in self.state.models if m.get("task") == "emotion"), None)
        sha = running and running.get("sha256")
        if sha is None or sha == self._model_sha:
            return
        try:
            entry, _ = model_entry("emotion", self.models.emotion, self.models.dir)
            if entry["sha256"] != sha:
                return  # the models link moved on while the pipeline still runs the old one: next time
            reference, error = load_reference(entry, self.models.dir), None
        except (ModelLoadError, ReferenceStatsError) as e:
            log.warning("monitoring without a training reference: %s", e)
            reference, error = None, str(e)
        with self._lock:
            self._model_sha, self.reference, self.reference_error = sha, reference, error
            # another model's predictions are another population: its window and baseline start afresh
            self._labels, self._predictions, self._baseline = {}, None, None

    def _figures(self, now: float) -> dict[str, dict]:
        s = self.settings
        with self._lock:
            errors_so_far = self.state.errors
            self._error_counts.add(now, errors_so_far)
            for window in (self._faces, self._frames, self._latency, self._predictions):
                if window is not None:
                    window.evict(now)
            quality = [self._faces.column(i) for i in range(4)]
            no_face, latency = self._frames.column(0), self._latency.column(0)
            errors = int(errors_so_far - self._error_counts.column(0)[0])
            oldest = self._latency.times[0] if self._latency.times else now
            totals = None if self._predictions is None else self._predictions.total.copy()
            baseline = None if self._baseline is None else self._baseline.copy()
            frames_seen = self._frames_seen
            self._evaluated_at = now
        figures: dict[str, dict] = {}
        faces = len(quality[0])
        medians = np.median(quality, axis=1) if faces >= s.min_samples else [None] * 4
        for name, median in zip(("brightness", "contrast", "sharpness", "face_size"), medians):
            figures[name] = {"value": median, "samples": faces,
                             "reference": self.reference and self.reference.medians.get(name)}
        figures["no_face_share"] = {"value": float(no_face.mean()) if len(no_face) >= s.min_samples else None,
                                    "samples": len(no_face)}
        figures.update(self._drift(totals, baseline))
        frames = len(latency)
        running = frames_seen >= s.min_samples
        figures["fps"] = {"value": (max(frames - 1, 0) / (now - oldest) if now > oldest else 0.0) if running else None,
                          "samples": frames}
        enough = frames >= s.min_samples
        p50, p95 = np.percentile(latency, [50, 95]) if enough else (None, None)
        figures["latency_p95_ms"] = {"value": p95, "p50_ms": _round(p50), "samples": frames}
        figures["error_rate"] = {"value": errors / (frames + errors) if frames + errors >= s.min_samples else None,
                                 "samples": frames + errors}
        figures["temperature_c"] = {"value": hottest_c()}
        return figures

    def _drift(self, totals: np.ndarray | None, baseline: np.ndarray | None) -> dict[str, dict]:
        """The window's predictions against the reference: the booth's own baseline once it is complete
        (until then nothing is judged), or the training faces'."""
        s = self.settings
        ref: Reference | Baseline | None
        if s.drift_reference == "training":
            ref, progress = self.reference, {"compared_with": "training"}
        else:
            faces = 0 if baseline is None else round(float(baseline[:-1].sum()))
            complete = faces >= s.baseline_faces
            ref = Baseline(tuple(self._labels), baseline[:-1], baseline[-1] / faces) if complete else None
            progress = {"compared_with": "baseline", "baseline_faces": faces, "baseline_needs": s.baseline_faces}
        n = 0 if totals is None else round(float(totals[:-1].sum()))
        judged = ref is not None and n >= s.drift_min_faces
        counts = totals[:-1] if totals is not None else None
        mean = totals[-1] / n if n else None
        return {
            "prediction_psi": {
                "value": psi(counts, ref.class_counts) if judged else None, "samples": n,
                "kl": _round(kl(counts, ref.class_counts)) if judged else None,
                "shares": dict(zip(self._labels, np.round(counts / n, 4).tolist())) if n else None,
                "reference_shares": dict(zip(ref.labels, np.round(shares(ref.class_counts, 0), 4).tolist()))
                if ref else None, **progress},
            "confidence_drop": {"value": ref.confidence_mean - mean if judged else None, "samples": n,
                                "mean": _round(mean), "reference_mean": _round(ref and ref.confidence_mean),
                                **progress},
        }

    def _publish(self, figures: dict[str, dict]) -> None:
        metrics, reasons = {}, []
        for m in METRICS:
            figure = figures[m.name]
            limits = m.limits(self.settings)
            state, why = judge(figure["value"], limits)
            if why:
                hint = m.low_hint if why.startswith("below") else m.high_hint
                reasons.append(f"{m.label} {state}: {figure['value']:.3g} {why} ({hint})")
            if "samples" in figure:  # the samples a window needs before it is judged
                s = self.settings
                figure["needs"] = s.drift_min_faces if m.group == "predictions" else s.min_samples
            metrics[m.name] = {"group": m.group, "label": m.label, "unit": m.unit, "state": state,
                               **{k: _round(v) if k in ("value", "reference") else v for k, v in figure.items()},
                               "limits": {side: list(pair) for side, pair in limits.items()}}
            self._log_transition(m, state, reasons[-1] if why else None)
        ref = self.reference.describe() if self.reference else {"error": self.reference_error}
        self._snapshot = {"state": worst(m["state"] for m in metrics.values()), "reasons": reasons,
                          "windows_s": {"quality": self.settings.quality_window_s,
                                        "drift": self.settings.drift_window_s,
                                        "health": self.settings.health_window_s},
                          "reference": ref, "metrics": metrics}

    def _log_transition(self, metric: Metric, state: str, reason: str | None) -> None:
        before = self._states.get(metric.name, "unknown")
        self._states[metric.name] = state
        if state != before and state in ("warn", "alert"):
            log.warning("monitoring: %s", reason)
        elif state == "ok" and before in ("warn", "alert"):
            log.info("monitoring: %s back to ok", metric.label)
