"""One frame through the appliance: detect -> crop -> classify -> track -> smooth -> primary face.

The detector does not run on every frame: in a booth the face barely moves, so between detections each
face keeps its box and is cropped and classified there. The detector runs on every frame while no face is
in view, every `detect_every` frames while faces are (so another face entering is found within that many
frames), and at once when a face's crop no longer looks like the one cut at the last detection
(normalised correlation below `redetect_similarity`: the face moved, turned or left). The classifier runs
on every frame.

Every stage is timed on every frame (the bench and the dashboard read the same figures). Frames are
given as (image, timestamp); where they come from is the sources' business.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.config import EdgeConfig
from edge.crop import CropSpec, face_crop
from edge.detector import FaceDetector, check_frame
from edge.emotion import EmotionModel
from edge.faces import Face
from edge.manifest import model_entry
from edge.tracker import Tracker, primary_index

STAGES = ("preprocess", "detect", "crop", "classify", "track")


@dataclass(frozen=True)
class PipelineSettings:
    smoothing_window_s: float = 1.0
    track_iou: float = 0.3
    track_max_missed: int = 15
    uncertain_below: float = 0.4  # smoothed top probability under this reads "uncertain", not a class
    max_faces: int = 4
    # the int8 detector now and then reports the whole frame as a face; a real face never fills more
    # than the frame's shorter side
    max_face_fraction: float = 0.9
    detect_every: int = 1  # frames between full detections; 1 detects on every frame
    redetect_similarity: float = 0.9  # a kept face's crop correlating less than this with its last one
    # means the face moved, turned or left: detect again before the cadence says so


@dataclass
class FaceResult:
    id: int
    box: tuple[float, float, float, float]
    score: float
    label: str  # an expression, or "uncertain"
    confidence: float
    probabilities: dict[str, float]  # smoothed over the window
    # the grey uint8 crop the classifier saw, for the monitor's quality figures: face_crop's own array, so
    # holding it keeps no frame alive. Never in as_dict (no image leaves the device) nor in repr (logs).
    # None where a result is built by hand.
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        # score is the detector's (is this a face?), confidence the expression's (the smoothed top probability)
        return {"id": self.id, "box": [round(v, 1) for v in self.box], "detector_score": round(self.score, 4),
                "label": self.label, "confidence": round(self.confidence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


@dataclass
class FrameResult:
    index: int
    timestamp: float
    width: int
    height: int
    faces: list[FaceResult]
    primary_id: int | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True  # the detector ran on this frame (else the faces kept their last boxes)

    def as_dict(self) -> dict:
        return {"index": self.index, "source_time_s": round(self.timestamp, 3), "width": self.width, "height": self.height,
                "faces": [f.as_dict() for f in self.faces], "primary_id": self.primary_id, "detected": self.detected,
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}}


MODEL_FIELDS = ("name", "task", "version", "precision", "sha256")


class Pipeline:
    def __init__(self, detector: FaceDetector, emotion: EmotionModel, crop: CropSpec,
                 settings: PipelineSettings = PipelineSettings(), models: list[dict] | None = None):
        self.detector, self.emotion, self.crop, self.settings = detector, emotion, crop, settings
        self.models = models or []  # what runs, for status pages: name, task, version, precision, sha256
        self.tracker = Tracker(settings.track_iou, settings.track_max_missed, settings.smoothing_window_s)
        self._kept: list[Face] | None = None  # the faces of the last detection; None before the first
        self._references: list[np.ndarray] = []  # their crops at that detection
        self._since_detection = 0
        self._shape: tuple[int, ...] | None = None  # the frame size of the last detection

    @classmethod
    def from_config(cls, config: EdgeConfig) -> Pipeline:
        """The one way to build the device's pipeline: the configured models from models.dir's manifest
        (sha256 checked, ModelLoadError otherwise) with the config's thread budget and pipeline settings."""
        # OpenCV's own thread pool gets the same budget as the interpreters: on images this small, handing
        # work to other cores costs more than it saves, and the spare cores belong to capture and the web server
        m = config.models
        cv2.setNumThreads(m.threads)
        det, det_path = model_entry("face_detection", m.detector, m.dir)
        emo, emo_path = model_entry("emotion", m.emotion, m.dir)
        p = config.pipeline
        return cls(FaceDetector.from_manifest(det, det_path, m.threads, m.min_face_score),
                   EmotionModel.from_manifest(emo, emo_path, m.threads), CropSpec.from_manifest(emo),
                   PipelineSettings(p.smoothing_window_s, p.track_iou, p.track_max_missed, p.uncertain_below,
                                    p.max_faces, detect_every=p.detect_every,
                                    redetect_similarity=p.redetect_similarity),
                   [{k: entry.get(k) for k in MODEL_FIELDS} for entry in (det, emo)])

    def process(self, image: np.ndarray, timestamp: float, index: int = 0) -> FrameResult:
        """Raises ValueError, saying what is wrong, for a frame that is not a uint8 image or a bad timestamp."""
        if not math.isfinite(timestamp):  # it would poison the smoothing window of every tracked face
            raise ValueError(f"frame timestamp {timestamp!r} is not a finite number of seconds.")
        timings, t = dict.fromkeys(STAGES, 0.0), time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal t
            now = time.perf_counter()
            timings[stage] += (now - t) * 1000
            t = now

        check_frame(image)
        s = self.settings
        # with no face in view, every frame is searched: an arriving candidate is found at once, and an empty
        # booth has the time to spare
        detect = not self._kept or self._since_detection + 1 >= s.detect_every or image.shape[:2] != self._shape
        if not detect:  # keep the faces where they were, unless one of them no longer looks the same
            faces, crops = self._kept, [face_crop(image, f, self.crop) for f in self._kept]
            lap("crop")
            detect = any(similarity(c, r) < s.redetect_similarity for c, r in zip(crops, self._references))
        if detect:
            model_input, box = self.detector.prepare(image)
            lap("preprocess")
            limit = s.max_face_fraction * min(image.shape[:2])
            faces = sorted((f for f in self.detector.infer(model_input, box) if max(f.box[2], f.box[3]) <= limit),
                           key=lambda f: -f.box[2] * f.box[3])[:s.max_faces]
            lap("detect")
            crops = [face_crop(image, f, self.crop) for f in faces]
            lap("crop")
            self._kept, self._references, self._since_detection, self._shape = faces, crops, 0, image.shape[:2]
        else:
            self._since_detection += 1
        probabilities = [self.emotion.probabilities(c) for c in crops]
        lap("classify")
        tracks = self.tracker.update([f.box for f in faces])
        results = []
        for face, crop, track, p in zip(faces, crops, tracks, probabilities):
            mean = track.expression.add(timestamp, p)
            top = int(mean.argmax())
            label = self.emotion.labels[top] if mean[top] >= self.settings.uncertain_below else "uncertain"
            results.append(FaceResult(track.id, face.box, face.score, label, float(mean[top]),
                                      dict(zip(self.emotion.labels, map(float, mean))), crop))
        primary = primary_index([f.box for f in faces], image.shape[1], image.shape[0])
        lap("track")
        timings["total"] = sum(timings.values())
        return FrameResult(index, timestamp, image.shape[1], image.shape[0], results,
                           None if primary is None else results[primary].id, timings, detect)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two grey crops of one size: 1 for the same picture (or the same picture
    brighter), lower as the face moves, turns or leaves; 1 for two flat crops, 0 for a flat and a textured one
    (a covered lens)."""
    x, y = a.astype(np.float32).ravel(), b.astype(np.float32).ravel()
    x -= x.mean()
    y -= y.mean()
    xx, yy = float(x @ x), float(y @ y)
    if xx == 0 or yy == 0:
        return 1.0 if xx == yy else 0.0
    return float(x @ y) / float(np.sqrt(xx * yy))
