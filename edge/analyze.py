"""Expressions for any photo, video or folder, in one call: the Python API behind `python -m edge analyze`.

    from edge import Analyzer
    analyzer = Analyzer()                      # the shipped int8 models, one thread
    for face in analyzer.analyze(cv2.imread("photo.jpg")):
        print(face.expression, face.probabilities["happy"], face.box)
    for reading in analyzer.analyze_path("clip.mp4", every_s=0.5):
        print(reading.time_s, [(f.track_id, f.expression) for f in reading.faces])

The same detector, crop and classifier classes as the daemon (edge/detector.py, edge/crop.py,
edge/emotion.py), built from the same manifest. The expression is what most people would read in the
face (the model learnt FER+'s ten annotators per face), never what the person feels.

Which detector: BlazeFace short-range (int8, the booth's) is made for faces near the camera; the
full-range model finds the small faces of group photos. ``detector="auto"`` runs both on still images and
merges their faces, and the short-range one on videos (a booth-like view); "short", "full" or "both"
choose explicitly. Every reading names the detectors it used.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.crop import CropSpec, face_crop
from edge.detector import FaceDetector
from edge.emotion import EmotionModel
from edge.faces import KEYPOINTS, Face, corners, iou
from edge.manifest import DEFAULT_MODELS_DIR, model_entry
from edge.tracker import Tracker

DETECTORS = {"short": "blazeface_short_int8", "full": "blazeface_full_float"}
CHOICES = ("auto", "short", "full", "both")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
MERGE_IOU = 0.3  # two detectors' boxes overlapping more than this are one face


class AnalyzeError(ValueError):
    """An input that cannot be analysed; the message names it and says why."""


@dataclass(frozen=True)
class FaceReading:
    """One face: where it is, how sure the detector is, and what most people would read in it."""
    box: tuple[float, float, float, float]  # x, y, w, h in image pixels
    score: float  # the detector's confidence that this is a face, 0..1
    landmarks: dict[str, tuple[float, float]]  # right_eye, left_eye, nose_tip, mouth, right_ear, left_ear
    probabilities: dict[str, float]  # expression -> probability, summing to 1
    expression: str  # the most probable expression
    track_id: int | None = None  # the same face across a video's samples; None for a still image

    def as_dict(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "landmarks": {k: [round(x, 1), round(y, 1)] for k, (x, y) in self.landmarks.items()},
                "expression": self.expression,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                **({"track_id": self.track_id} if self.track_id is not None else {})}


@dataclass(frozen=True)
class Reading:
    """The faces of one image, or of one sampled video frame."""
    source: str
    width: int
    height: int
    detectors: tuple[str, ...]
    faces: list[FaceReading] = field(default_factory=list)
    frame: int | None = None  # the frame's index in a video; None for an image
    time_s: float | None = None  # the frame's time in a video
    # the image analysed, for drawing on it; never in as_dict, nor in repr
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        where = {"frame": self.frame, "time_s": round(self.time_s, 3)} if self.frame is not None else {}
        return {"source": self.source, **where, "width": self.width, "height": self.height,
                "detectors": list(self.detectors), "faces": [f.as_dict() for f in self.faces]}


def merged(groups: list[list[Face]]) -> list[Face]:
    """The faces of several detectors, one per face: the best-scoring box of each overlapping group."""
    kept: list[Face] = []
    for face in sorted((f for g in groups for f in g), key=lambda f: -f.score):
        if all(iou(corners(face.box), corners(k.box)) <= MERGE_IOU for k in kept):
            kept.append(face)
    return kept


class Analyzer:
    """Faces and expressions for images and videos, with the shipped models (or those of `models_dir`)."""

    def __init__(self, detector: str = "auto", models_dir: str | Path = DEFAULT_MODELS_DIR,
                 emotion: str | None = None, threads: int = 1, min_score: float | None = None):
        if detector not in CHOICES:
            raise AnalyzeError(f"detector {detector!r}: choose one of {', '.join(CHOICES)}.")
        self.choice, models_dir = detector, Path(models_dir)
        self.detectors: dict[str, FaceDetector] = {}
        for kind, name in DETECTORS.items():
            if detector in (kind, "both", "auto"):
                entry, path = model_entry("face_detection", name, models_dir)
                self.detectors[kind] = FaceDetector.from_manifest(entry, path, threads, min_score)
        entry, path = model_entry("emotion", emotion, models_dir)
        self.emotion = EmotionModel.from_manifest(entry, path, threads)
        self.crop = CropSpec.from_manifest(entry)

    def kinds(self, video: bool) -> tuple[str, ...]:
        """The detectors used for a still image or for a video's frames."""
        if self.choice == "auto":
            return ("short",) if video else ("short", "full")
        return ("short", "full") if self.choice == "both" else (self.choice,)

    def analyze(self, image: np.ndarray, video: bool = False) -> list[FaceReading]:
        """Every face of a BGR (or grey) uint8 image, largest first. ValueError for an array that is not one."""
        faces = merged([self.detectors[k].detect(image) for k in self.kinds(video)])
        faces.sort(key=lambda f: -f.box[2] * f.box[3])
        readings = []
        for face in faces:
            p = self.emotion.probabilities(face_crop(image, face, self.crop))
            top = int(np.argmax(p))
            readings.append(FaceReading(face.box, face.score,
                                        {k: (float(x), float(y)) for k, (x, y) in zip(KEYPOINTS, face.keypoints)},
                                        dict(zip(self.emotion.labels, map(float, p))), self.emotion.labels[top]))
        return readings

    def analyze_image(self, image: np.ndarray, source: str = "image") -> Reading:
        return Reading(source, image.shape[1], image.shape[0], self.kinds(False), self.analyze(image), image=image)

    def analyze_path(self, path: str | Path, every_s: float = 1.0, progress=None) -> Iterator[Reading]:
        """Readings of an image file, of a video sampled every `every_s` seconds (faces keep a track_id),
        or of every image and video in a folder, in name order. AnalyzeError for an unreadable input;
        `progress(done, total)` is called as a video advances."""
        path = Path(path)
        if path.is_dir():
            children = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not children:
                raise AnalyzeError(f"{path}: a folder with no images or videos in it "
                                   f"({', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))}).")
            for child in children:
                yield from self.analyze_path(child, every_s, progress)
        elif not path.exists():
            raise AnalyzeError(f"{path}: no such file or folder.")
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            yield from self.analyze_video(path, every_s, progress)
        else:
            image = cv2.imread(str(path)) if path.is_file() else None
            if image is None:
                raise AnalyzeError(f"{path}: not a readable image or video (images: "
                                   f"{', '.join(sorted(IMAGE_SUFFIXES))}; videos: {', '.join(sorted(VIDEO_SUFFIXES))}).")
            yield self.analyze_image(image, str(path))

    def analyze_video(self, path: Path, every_s: float = 1.0, progress=None) -> Iterator[Reading]:
        if not every_s > 0:
            raise AnalyzeError(f"every_s must be a positive number of seconds, got {every_s!r}.")
        cap = cv2.VideoCapture(str(path))
        try:
            fps = cap.get(cv2.CAP_PROP_FPS)
            ok, image = cap.read()
            if not cap.isOpened() or not ok:
                raise AnalyzeError(f"{path}: not a readable video (OpenCV cannot decode it).")
            fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
            step = max(1, round(every_s * fps))
            tracker, index = Tracker(), 0
            while ok:
                if index % step == 0:
                    faces = self.analyze(image, video=True)
                    tracks = tracker.update([f.box for f in faces])
                    faces = [FaceReading(f.box, f.score, f.landmarks, f.probabilities, f.expression, t.id)
                             for f, t in zip(faces, tracks)]
                    yield Reading(str(path), image.shape[1], image.shape[0], self.kinds(True), faces, index,
                                  index / fps, image)
                    if progress is not None:
                        progress(index + 1, total)
                ok, image = cap.read()
                index += 1
        finally:
            cap.release()
